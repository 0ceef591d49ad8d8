"""Sweep-table figures: heat map of cell means and lines with confidence bands, against a re-derivation."""
import numpy as np
import pytest

from gmmproxy import plotting

pd = pytest.importorskip("pandas")


def _table(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p in (0.0, 0.2, 0.4):
        for k in (1, 5, 29):
            for r in range(6):
                rows.append(dict(cell=f"{p}-{k}", p_mirror=p, n_neighbors=k, replicate=r,
                                 silos_final=int(rng.integers(1, 8)), entropy_final=float(rng.random()),
                                 time_to_single_silo=pd.NA if r % 3 == 0 else int(rng.integers(1, 50))))
    df = pd.DataFrame(rows)
    df["time_to_single_silo"] = df["time_to_single_silo"].astype("Int64")
    df.attrs["manifest"] = {"parameters": ["p_mirror", "n_neighbors"]}
    return df


def test_heatmap_cells_are_the_cell_means():
    df = _table()
    fig = plotting.plot_sweep_heatmap(df, "neighbors", "p_mirror", "silos_final")
    ax = fig.axes[0]
    im = [a for a in ax.get_images() if a.get_gid() == "heatmap"][0]
    arr = np.ma.filled(im.get_array(), np.nan)
    for i, p in enumerate((0.0, 0.2, 0.4)):
        for j, k in enumerate((1, 5, 29)):
            vals = [row.silos_final for row in df.itertuples() if row.p_mirror == p and row.n_neighbors == k]
            assert arr[i, j] == pytest.approx(sum(vals) / len(vals))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "5", "29"]
    assert ax.get_xlabel() == "n_neighbors" and ax.get_ylabel() == "p_mirror"
    assert "mean silos_final" in fig.axes[1].get_ylabel()
    # time_to_single_silo averages over the replicates that reach one silo (NA skipped)
    fig = plotting.plot_sweep_heatmap(df, "n_neighbors", "p_mirror", "time_to_single_silo")
    arr = np.ma.filled(fig.axes[0].get_images()[0].get_array(), np.nan)
    sel = df[(df.p_mirror == 0.2) & (df.n_neighbors == 5)].time_to_single_silo.dropna()
    assert arr[1, 1] == pytest.approx(sel.astype(float).mean())


def test_lines_and_bands_are_mean_pm_z_se():
    from scipy.stats import norm

    df = _table(1)
    fig = plotting.plot_sweep_lines(df, "n_neighbors", "entropy_final", level=0.9)
    ax = fig.axes[0]
    lines = {l.get_gid(): l for l in ax.get_lines()}
    assert set(lines) == {"mean:p_mirror=0", "mean:p_mirror=0.2", "mean:p_mirror=0.4"}
    z = norm.ppf(0.95)
    line = lines["mean:p_mirror=0.2"]
    band = [c for c in ax.collections if c.get_gid() == "band:p_mirror=0.2"][0]
    verts = band.get_paths()[0].vertices
    for j, k in enumerate((1, 5, 29)):
        v = np.array([row.entropy_final for row in df.itertuples() if row.p_mirror == 0.2 and row.n_neighbors == k])
        m, se = v.mean(), v.std(ddof=1) / np.sqrt(v.size)
        assert line.get_ydata()[j] == pytest.approx(m)
        ys = verts[np.isclose(verts[:, 0], k), 1]
        assert min(ys) == pytest.approx(m - z * se) and max(ys) == pytest.approx(m + z * se)
    # the legend sits outside the axes, over no data
    leg = ax.get_legend()
    fig.canvas.draw()
    assert leg.get_window_extent().x0 >= ax.get_window_extent().x1


def test_where_and_errors():
    df = _table()
    fig = plotting.plot_sweep_lines(df, "p_mirror", where={"neighbors": 5})
    assert [l.get_gid() for l in fig.axes[0].get_lines()] == ["mean:silos_final"]
    df3 = df.assign(sigma=np.where(df.replicate < 3, 0.1, 0.2))
    df3.attrs["manifest"] = {"parameters": ["p_mirror", "n_neighbors", "sigma"]}
    with pytest.raises(ValueError, match="also varies sigma; fix them with where"):
        plotting.plot_sweep_heatmap(df3, "p_mirror", "n_neighbors")
    with pytest.raises(ValueError, match="where n_neighbors=7 matches no cell"):
        plotting.plot_sweep_lines(df, "p_mirror", where={"n_neighbors": 7})
    with pytest.raises(ValueError, match="stat must be one of"):
        plotting.plot_sweep_lines(df, "p_mirror", "bogus")
    with pytest.raises(ValueError, match="unknown parameter 'sigma'"):
        plotting.plot_sweep_lines(df, "sigma")
    with pytest.raises(ValueError, match="different parameters"):
        plotting.plot_sweep_heatmap(df, "p_mirror", "p_mirror")
    with pytest.raises(ValueError, match="level must be in"):
        plotting.plot_sweep_lines(df, "p_mirror", level=95)


def test_sampled_design_draws_one_error_bar_per_point():
    from scipy.stats import norm

    rng = np.random.default_rng(3)
    rows = []
    for c in range(16):
        sigma, rag = float(rng.uniform(0.05, 0.5)), int(rng.integers(1, 10))
        for r in range(5):
            rows.append(dict(cell=f"c{c}", sigma=sigma, rag_size=rag, replicate=r,
                             silos_final=int(rng.integers(1, 9))))
    df = pd.DataFrame(rows)
    df.attrs["manifest"] = {"parameters": ["sigma", "rag_size"], "design": {"kind": "sobol"}}
    fig = plotting.plot_sweep_lines(df, "sigma", level=0.95)
    ax = fig.axes[0]
    marker_line = ax.get_lines()[0]
    xs, ys = marker_line.get_xdata(), marker_line.get_ydata()
    assert len(xs) == 16 and np.all(np.diff(xs) >= 0)
    by = df.groupby("cell")
    ref = sorted(zip(by.sigma.first(), by.silos_final.mean(), by.silos_final.std(ddof=1) / np.sqrt(5)))
    np.testing.assert_allclose(xs, [r[0] for r in ref])
    np.testing.assert_allclose(ys, [r[1] for r in ref])
    segs = [c for c in ax.collections if c.get_segments()][0].get_segments()
    half = [abs(s[1][1] - s[0][1]) / 2 for s in segs]
    np.testing.assert_allclose(half, [norm.ppf(0.975) * r[2] for r in ref])
    assert "16 design points (rag_size varies between points)" in ax.get_title()


def test_lines_keep_the_whole_swept_range_where_a_statistic_is_censored():
    df = _table(2)
    df.loc[df.n_neighbors < 29, "time_to_single_silo"] = pd.NA  # never reached below k = 29
    fig = plotting.plot_sweep_lines(df, "n_neighbors", "time_to_single_silo")
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo < 1 and hi > 29
    notes = [t.get_text() for t in ax.texts]
    assert any("n_neighbors = 1, 5" in t for t in notes), notes
