"""``gmmproxy llm``: the group of LLM commands and its ``run`` command (the flower experiment with real LLM agents).

``gmmproxy/cli/__init__.py`` attaches further sub-commands (``import``, ``silos``) to
:data:`llm_group`; only ``run`` lives here.
"""
from __future__ import annotations

import os
import sys

import click

__all__ = ["llm_group", "run_command"]


@click.group(name="llm")
def llm_group():
    """Interacting LLM agents: run experiments, import and analyse logs."""


def _backend_from_options(o: dict, recorded: dict | None):
    """Build the backend; on resume, options not given come from the log's record."""
    rec = recorded or {}
    kind = o["backend"] or rec.get("kind") or "openai"
    if kind == "openai":
        from gmmproxy.llm.openai_backend import OpenAIBackend

        base_url = o["base_url"] or rec.get("base_url")
        model = o["model"] or rec.get("model")
        if not base_url:
            raise click.UsageError("--base-url is required with --backend openai")
        if not model:
            raise click.UsageError("--model is required with --backend openai")
        return OpenAIBackend(
            base_url, model,
            endpoint=o["endpoint"] or rec.get("endpoint") or "chat",
            api_key_env=o["api_key_env"],
            timeout=o["timeout"], retries=o["retries"], backoff=o["backoff"],
            max_concurrency=o["max_concurrency"],
            system_prompt=rec.get("system_prompt"), extra_body=rec.get("extra_body"),
        )
    if kind == "transformers":
        from gmmproxy.llm.transformers_backend import TransformersBackend

        path = o["model_path"] or rec.get("model_path")
        if not path:
            raise click.UsageError("--model-path is required with --backend transformers")
        return TransformersBackend(path, device=o["device"], batch_size=o["batch_size"])
    if kind == "replay":
        from gmmproxy.llm.replay_backend import ReplayBackend

        source = o["replay"] or rec.get("source")
        if not source:
            raise click.UsageError("--replay LOG is required with --backend replay")
        return ReplayBackend(source)
    raise click.UsageError(f"unknown backend {kind!r}")


class _Progress:
    """A click progress bar on stderr counting requests, labelled with the step."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.t = 0
        self.n_steps = 0

    def start(self, n_agents, first_step, n_steps):
        self.t, self.n_steps = first_step, n_steps
        if not self.enabled or first_step >= n_steps:
            return
        self.bar = click.progressbar(
            length=n_agents * (n_steps - first_step),
            label="llm run", file=sys.stderr, show_pos=True,
            item_show_func=lambda _: f"step {min(self.t + 1, self.n_steps)}/{self.n_steps}",
        )
        self.bar.__enter__()

    def request(self, _i):
        if self.bar is not None:
            self.bar.update(1)

    def step(self, t):
        self.t = t + 1
        if self.bar is not None:
            self.bar.update(0)

    def finish(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@llm_group.command(name="run", short_help="Run the prettiest-flower experiment with LLM agents.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="JSON Lines log to write (embeddings go to OUT.emb.f32).")
@click.option("--resume", is_flag=True,
              help="Continue the partial log OUT; options not given are taken from its run record.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.option("--backend", type=click.Choice(["openai", "transformers", "replay"]), default=None,
              help="LLM backend [default: openai; on --resume: the log's].")
@click.option("--base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
@click.option("--model", default=None, help="Model name sent to the server.")
@click.option("--endpoint", type=click.Choice(["chat", "completions"]), default=None,
              help="/chat/completions or /completions [default: chat].")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key (unset: no key sent).")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds per connect/read of one request.")
@click.option("--retries", type=int, default=5, show_default=True,
              help="Retries of a request after a transient failure.")
@click.option("--backoff", type=float, default=1.0, show_default=True,
              help="First retry delay in seconds (doubles each retry, max 30 s).")
@click.option("--max-concurrency", type=int, default=8, show_default=True,
              help="Requests in flight at once.")
@click.option("--model-path", type=click.Path(file_okay=False), default=None,
              help="Local Hugging Face model directory (--backend transformers).")
@click.option("--device", default="cpu", show_default=True, help="torch device (transformers).")
@click.option("--batch-size", type=int, default=8, show_default=True,
              help="Prompts per forward batch (transformers).")
@click.option("--replay", type=click.Path(dir_okay=False), default=None,
              help="Log whose responses to serve (--backend replay).")
@click.option("--agents", "n_agents", type=int, default=None,
              help="Number of agents [default: number of memories].")
@click.option("--steps", "n_steps", type=int, default=None, help="Number of steps [default: 80].")
@click.option("--p-mirror", type=float, default=None, help="Mirroring probability [default: 0.2].")
@click.option("--neighbors", "n_neighbors", type=int, default=None,
              help="Nearest neighbours k [default: 5].")
@click.option("--seed", type=int, default=None,
              help="Run seed [default: fresh entropy, recorded in the log].")
@click.option("--embedder", default=None, help="Embedder name or path [default: minilm].")
@click.option("--memories", type=click.Path(dir_okay=False), default=None,
              help="Initial memories: RAGs.npz or a text file with one sentence per line "
                   "[default: the built-in flower sentences].")
@click.option("--template", default=None,
              help="Prompt template containing {memory} [default: the built-in one].")
@click.option("--temperature", type=float, default=None, help="Sampling temperature [default: 0.75].")
@click.option("--max-tokens", type=int, default=None, help="Answer length limit [default: 64].")
@click.option("--no-embeddings", is_flag=True, help="Do not store embeddings in a sidecar.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar on stderr.")
def run_command(**o):
    """Run the "prettiest flower" experiment (McGuinness et al. 2024) with LLM agents.

    Every step is saved as soon as it completes; after a crash, a dead server or Ctrl-C,
    rerun with --resume to continue where the log stops.
    """
    from gmmproxy.llm.backend import BackendError
    from gmmproxy.llm.log import read_log
    from gmmproxy.llm.runner import FlowerParameters, load_memories, run_flowers

    out = o["out"]
    recorded = None
    if o["resume"]:
        if not os.path.exists(out):
            raise click.BadParameter(f"{out} does not exist (nothing to resume)", param_hint="--out")
        recorded = read_log(out).meta.get("backend")
    elif o["overwrite"] is False and os.path.exists(out) and os.path.getsize(out) > 0:
        raise click.BadParameter(f"{out} already exists; use --resume to continue it or "
                                 "--overwrite to replace it", param_hint="--out")
    memories = load_memories(o["memories"]) if o["memories"] else None
    backend = _backend_from_options(o, recorded)
    progress = _Progress(o["progress"])
    try:
        parameters = FlowerParameters(
            memories=memories, n_agents=o["n_agents"], n_steps=o["n_steps"],
            p_mirror=o["p_mirror"], n_neighbors=o["n_neighbors"], seed=o["seed"],
            embedder=o["embedder"], template=o["template"], temperature=o["temperature"],
            max_tokens=o["max_tokens"], store_embeddings=not o["no_embeddings"],
        )
        log = run_flowers(
            out, backend, parameters, resume=o["resume"], overwrite=o["overwrite"],
            on_start=progress.start, on_request=progress.request, on_step=progress.step,
        )
    except BackendError as exc:
        progress.finish()
        saved = ""
        try:
            partial = read_log(out)
            saved = (f" ({partial.n_steps} of {partial.meta.get('n_steps')} steps saved in "
                     f"{out}; rerun with --resume to continue)")
        except Exception:  # the log itself is fine; only the summary is lost
            pass
        raise click.ClickException(f"{exc}{saved}") from None
    finally:
        progress.finish()
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    click.echo(f"wrote {log.n_steps} steps of {log.n_agents} agents to {out}")
