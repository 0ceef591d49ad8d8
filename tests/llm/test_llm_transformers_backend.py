"""TransformersBackend on a tiny randomly initialised GPT-2 built offline in a tmp dir."""
import numpy as np
import pytest
from scipy.stats import chisquare

pytestmark = pytest.mark.transformers

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from click.testing import CliRunner  # noqa: E402

from gmmproxy.cli import main  # noqa: E402
from gmmproxy.llm.backend import BackendError  # noqa: E402
from gmmproxy.llm.log import read_log  # noqa: E402
from gmmproxy.llm.runner import FlowerParameters, run_flowers  # noqa: E402
from gmmproxy.llm.transformers_backend import TransformersBackend  # noqa: E402

WORDS = ("the prettiest flower is rose tulip lily orchid iris poppy daisy with red white "
         "petals and a sweet scent i remember").split()
SPECIAL = ["[PAD]", "[UNK]", "[EOS]"]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # the machine is shared: torch's intra-op threads spin against other processes and
    # make a 32-wide model crawl; one thread is fastest here
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = {tok: i for i, tok in enumerate(SPECIAL + WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]")
    fast.save_pretrained(path)
    config = transformers.GPT2Config(
        vocab_size=len(vocab), n_positions=128, n_embd=32, n_layer=2, n_head=2,
        bos_token_id=vocab["[EOS]"], eos_token_id=vocab["[EOS]"], pad_token_id=vocab["[PAD]"])
    torch.manual_seed(0)  # the test's own model; the backend never touches global state
    model = transformers.GPT2LMHeadModel(config)
    with torch.no_grad():  # sharpen the random logits a little so answers differ by seed
        model.lm_head.weight.mul_(4.0)
    model.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def backend(model_dir):
    return TransformersBackend(model_dir, batch_size=64)


def test_first_token_follows_the_model_distribution(backend, model_dir):
    prompt = "i remember the rose"
    n = 400
    got = backend.generate([prompt] * n, seed=list(range(n)), temperature=1.0, max_tokens=1)
    # independent reference: softmax of the model's last-position logits
    tok = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        p = torch.softmax(model(ids).logits[0, -1].double(), -1).numpy()
    words = [tok.convert_ids_to_tokens(i) for i in range(len(p))]
    special = np.array([w in SPECIAL for w in words])
    # categories: every ordinary word, plus all special tokens together (decoded as "")
    probs = np.append(p[~special], p[special].sum())
    index = {w: j for j, w in enumerate(w for w, s in zip(words, special) if not s)}
    counts = np.zeros(len(probs))
    for text in got:
        counts[index.get(text.strip(), len(probs) - 1)] += 1
    assert counts.sum() == n
    assert chisquare(counts, probs * n).pvalue > 1e-3
    assert len(set(got)) > 5  # seeds really differ


def test_seeded_sampling_is_reproducible(backend):
    prompts = ["i remember the rose", "the tulip with red petals", "a lily"]
    a = backend.generate(prompts, seed=[1, 2, 3], max_tokens=6)
    b = backend.generate(prompts, seed=[1, 2, 3], max_tokens=6)
    c = backend.generate(prompts, seed=[4, 5, 6], max_tokens=6)
    assert a == b and a != c
    assert all(isinstance(x, str) for x in a)
    # an unseeded call still works (fresh entropy, not torch's global generator)
    state = torch.random.get_rng_state()
    backend.generate(prompts[:1], max_tokens=2)
    assert torch.equal(state, torch.random.get_rng_state())


def test_greedy_matches_a_manual_argmax_loop(backend, model_dir):
    prompt = "the prettiest flower is"
    got = backend.generate([prompt], seed=[0], temperature=0.0, max_tokens=4)[0]
    tok = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    out = []
    with torch.no_grad():
        for _ in range(4):
            nxt = int(model(ids).logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    assert got == tok.decode(out, skip_special_tokens=True)


def test_errors(tmp_path, backend):
    with pytest.raises(ValueError, match="model_path must be an existing directory"):
        TransformersBackend(tmp_path / "missing")
    with pytest.raises(ValueError, match="could not be loaded"):
        TransformersBackend(tmp_path)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1; got 0"):
        TransformersBackend(tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="max_tokens must be an int >= 1"):
        backend.generate(["a"], max_tokens=0)
    closed = TransformersBackend(backend.model_path)
    closed.close()
    with pytest.raises(BackendError, match="closed"):
        closed.generate(["a"])


def test_runner_cli_and_resume_with_transformers(tmp_path, model_dir):
    mem = tmp_path / "mem.txt"
    mem.write_text("the rose\nthe tulip\nthe lily\nthe iris\n")
    common = ["llm", "run", "--backend", "transformers", "--model-path", model_dir,
              "--memories", str(mem), "--neighbors", "2", "--seed", "4", "--embedder", "tfidf",
              "--max-tokens", "5", "--template", "i remember {memory} the prettiest flower is"]
    full = tmp_path / "full.jsonl"
    res = CliRunner().invoke(main, [*common, "--steps", "3", "--out", str(full)])
    assert res.exit_code == 0, res.output
    log = read_log(full)
    assert (log.n_steps, log.n_agents) == (3, 4)
    assert log.meta["backend"]["kind"] == "transformers"
    # two steps, then resume to three: identical to the uninterrupted run
    part = tmp_path / "part.jsonl"
    b = TransformersBackend(model_dir)
    kw = dict(memories=["the rose", "the tulip", "the lily", "the iris"], n_neighbors=2, seed=4,
              embedder="tfidf", max_tokens=5, p_mirror=0.2, temperature=0.75,
              template="i remember {memory} the prettiest flower is")
    with pytest.raises(KeyboardInterrupt):
        run_flowers(part, b, FlowerParameters(n_steps=3, **kw), on_step=lambda t: (
            _ for _ in ()).throw(KeyboardInterrupt) if t == 1 else None)
    assert read_log(part).n_steps == 2
    resumed = run_flowers(part, b, FlowerParameters(n_steps=3, **kw), resume=True)
    assert resumed.records == log.records
