"""The Markov-chain kernel compiles only the sender rule a run needs."""
import os
import subprocess
import sys

from gmmproxy._kernels import chain as kchain


def test_uniform_sender_chain_compiles_no_k_nearest_selection(tmp_path):
    # in a fresh interpreter with an empty cache: the default chain (uniform sender, theory
    # montecarlo's default) must not type the k-nearest selection (first-use compile time)
    code = ("from gmmproxy.chain import ChainConfig, simulate_chain_many\n"
            "from gmmproxy._kernels import chain, neighbors\n"
            "simulate_chain_many(ChainConfig(n_agents=4, sigma=0.3, rag_size=2), steps=3, replicates=1, seed=0)\n"
            "print(len(chain.block_kernel(chain.SENDER_UNIFORM).overloads), len(chain._choose_sender.overloads),\n"
            "      len(neighbors.k_nearest_heap.overloads), len(chain._BLOCKS))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "0", "0", "1"]


def test_block_kernel_is_built_once_per_sender_rule():
    assert kchain.block_kernel(kchain.SENDER_UNIFORM) is kchain.block_kernel(kchain.SENDER_UNIFORM)
    assert kchain.block_kernel(kchain.SENDER_KNN) is not kchain.block_kernel(kchain.SENDER_UNIFORM)
