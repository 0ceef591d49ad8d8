"""Private Numba kernels. Callers must validate inputs first (see ``gmmproxy.config``)."""
