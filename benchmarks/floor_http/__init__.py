"""The floor of a submit over HTTP (benchmarks/bench_http.py): a minimal Django + DRF endpoint doing the
least a submit must do -- a hashed-token lookup, serializer validation, one INSERT, one Redis push --
served as the portal is, so the ratio between the two is what the portal's own code costs."""
