"""The ``gmmproxy warmup`` command: compile the Numba kernels ahead of time."""
from __future__ import annotations

import click


@click.command("warmup")
@click.option("--all", "all_variants", is_flag=True,
              help="Every model variant (d-dimensional, dense and sparse graphs, Algorithm 2, float32 records) "
                   "and the calibration kernel, not only the defaults.")
@click.option("--calibration", is_flag=True,
              help="Also the kernel of `gmmproxy calibrate` (included in --all; its first compile takes "
                   "about 40 s of CPU).")
def warmup_command(all_variants, calibration):
    """Compile the simulation kernels now, so that later runs start in about a second.

    Each model variant compiles once, the first time it is used, and is then
    loaded from Numba's on-disk cache. Run this when building a container
    image or before starting cluster workers (with the same NUMBA_CACHE_DIR
    they will use), so no worker pays the compile time. Without --all: the
    paper's 1-d set-up with and without kNN, and the Markov chain of
    `gmmproxy theory montecarlo`; --calibration adds the kernel of
    `gmmproxy calibrate`.
    """
    from gmmproxy._kernels.cache import cache_dir
    from gmmproxy._kernels.warmup import warmup

    where = cache_dir()
    click.echo(f"kernel cache: {where if where is not None else 'none writable (kernels compile in every process)'}")
    done = warmup(all_variants=all_variants, calibration=calibration or all_variants, echo=click.echo)
    click.echo(f"{len(done)} variants ready in {sum(s for _, s in done):.1f} s")
