"""Backend for a local Hugging Face causal language model (no network access).

The model and tokenizer are loaded from a local directory with ``local_files_only=True``.
Sampling is seeded per request: every prompt gets its own ``torch.Generator`` seeded with
its request seed, and a logits processor draws each next token from the temperature-
scaled softmax with that generator. The answer of a prompt therefore depends on its seed
and on the batch it is computed in (padding changes floating-point round-off), never on
torch's global random state.

torch and transformers are imported when the backend is created, not when this module is
imported, so the rest of gmmproxy works without them.
"""
from __future__ import annotations

import numbers
import os

import numpy as np

from gmmproxy._extras import MissingExtraError

from .backend import BackendError, check_generate_args

__all__ = ["TransformersBackend"]

_INSTALL_HINT = ("pip install torch==2.13.0 (or another torch build for your machine), "
                 "then pip install 'gmmproxy[transformers]'")


def _import_torch_transformers():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MissingExtraError(
            f"the transformers backend needs torch and transformers ({exc}); install them "
            f"with: {_INSTALL_HINT}"
        ) from None
    return torch, transformers


class TransformersBackend:
    """Generate with a local causal LM.

    Parameters
    ----------
    model_path : str or os.PathLike
        Directory holding the model and its tokenizer (``save_pretrained`` layout).
    device : str
        torch device, e.g. ``"cpu"`` or ``"cuda"``.
    batch_size : int
        Prompts per forward batch.
    chat_template : {"auto", True, False}
        Wrap each prompt as one user message with the tokenizer's chat template.
        ``"auto"`` does so when the tokenizer has a template.
    dtype : str, optional
        torch dtype name of the weights (e.g. ``"float16"``); default: float32.
    """

    name = "transformers"

    def __init__(self, model_path, *, device: str = "cpu", batch_size: int = 8,
                 chat_template="auto", dtype: str | None = None):
        model_path = os.fspath(model_path)
        if not os.path.isdir(model_path):
            raise ValueError(f"model_path must be an existing directory with a saved model; "
                             f"got {model_path!r}")
        if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        if chat_template not in ("auto", True, False):
            raise ValueError(f"chat_template must be 'auto', True or False; got {chat_template!r}")
        torch, transformers = _import_torch_transformers()
        torch_dtype = None
        if dtype is not None:
            torch_dtype = getattr(torch, str(dtype), None)
            if not isinstance(torch_dtype, torch.dtype):
                raise ValueError(f"dtype must name a torch dtype such as 'float16'; got {dtype!r}")
        self._torch = torch
        self._transformers = transformers
        self.model_path = model_path
        self.device = str(device)
        self.batch_size = int(batch_size)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                model_path, local_files_only=True)
            kwargs = {"local_files_only": True}
            if torch_dtype is not None:
                kwargs["dtype"] = torch_dtype
            self.model = transformers.AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
        except (OSError, ValueError) as exc:
            raise ValueError(f"model_path {model_path!r} could not be loaded as a causal LM "
                             f"with its tokenizer: {' '.join(str(exc).split())[:300]}") from None
        self.model.to(self.device)
        self.model.eval()
        # decoder-only models must be padded on the left so every row's last token is
        # the one the next token is predicted from
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            if self.tokenizer.eos_token_id is None:
                raise ValueError(f"the tokenizer in {model_path!r} has neither a pad nor an "
                                 "eos token; batched generation needs one of them")
            self.tokenizer.pad_token = self.tokenizer.eos_token
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        if chat_template is True and not has_template:
            raise ValueError(f"chat_template=True but the tokenizer in {model_path!r} has none")
        self.use_chat_template = has_template if chat_template == "auto" else bool(chat_template)

    def describe(self) -> dict:
        return {"kind": self.name, "model_path": self.model_path,
                "model": getattr(self.model.config, "_name_or_path", "") or
                os.path.basename(os.path.normpath(self.model_path)),
                "chat_template": self.use_chat_template}

    def close(self) -> None:
        self.model = None

    def _format(self, prompt: str) -> str:
        if not self.use_chat_template:
            return prompt
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)

    def generate(self, prompts, *, seed=None, temperature: float = 0.75,
                 max_tokens: int = 64, keys=None, callback=None) -> list:
        """Answer a batch of prompts; see :meth:`gmmproxy.llm.backend.Backend.generate`.

        ``temperature=0`` is greedy decoding (seeds are then irrelevant).
        """
        prompts, seeds, _ = check_generate_args(prompts, seed, temperature, max_tokens, keys)
        if self.model is None:
            raise BackendError(f"transformers backend for {self.model_path} is closed")
        if any(s is None for s in seeds):
            # unseeded: fresh OS entropy per prompt (never torch's global generator)
            fresh = np.random.SeedSequence().generate_state(len(prompts), dtype=np.uint32)
            seeds = [int(x) & 0x7FFFFFFF if s is None else s for s, x in zip(seeds, fresh)]
        out = []
        for start in range(0, len(prompts), self.batch_size):
            chunk = prompts[start:start + self.batch_size]
            out.extend(self._generate_batch(chunk, seeds[start:start + self.batch_size],
                                            float(temperature), int(max_tokens)))
            if callback is not None:
                for i in range(start, start + len(chunk)):
                    callback(i)
        return out

    def _generate_batch(self, prompts, seeds, temperature, max_tokens):
        torch, transformers = self._torch, self._transformers
        texts = [self._format(p) for p in prompts]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True,
                             add_special_tokens=not self.use_chat_template)
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        config = transformers.GenerationConfig(
            max_new_tokens=max_tokens,
            do_sample=False,  # our processor samples; greedy then picks its token
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        processors = transformers.LogitsProcessorList()
        if temperature > 0:
            gens = [torch.Generator(device=self.device).manual_seed(int(s)) for s in seeds]
            processors.append(_SeededSampler(gens, temperature, torch))
        try:
            with torch.no_grad():
                ids = self.model.generate(**enc, generation_config=config,
                                          logits_processor=processors)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"generation with {self.model_path} failed: "
                               f"{' '.join(str(exc).split())[:300]}") from None
        new = ids[:, enc["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)


class _SeededSampler:
    """Logits processor: draw each row's next token with that row's own generator.

    It returns scores that are -inf except at the drawn token, so the greedy step of
    ``generate`` selects exactly the sampled token.
    """

    def __init__(self, generators, temperature, torch):
        self.generators = generators
        self.temperature = temperature
        self.torch = torch

    def __call__(self, input_ids, scores):
        torch = self.torch
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        out = torch.full_like(scores, float("-inf"))
        for b, gen in enumerate(self.generators):
            tok = torch.multinomial(probs[b], 1, generator=gen)
            out[b, tok] = 0.0
        return out
