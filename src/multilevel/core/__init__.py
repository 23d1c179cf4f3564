"""Numerics of the fits: cross-products, Cholesky factors, PIRLS, optimisers and the covariance
structures (``core/covstruct/``, one module each). The lowest layer: imports nothing of the
package but ``errors`` (docs/architecture.md)."""
