"""The padded Fourier grid shared by the background, the noise and the imaging model.

Real volumes (z, y, x) are zero-padded at the end of each axis to
``scipy.fft.next_fast_len(n + 16, real=True)`` so that circular convolution cannot
carry density across faces, transformed with :func:`scipy.fft.rfftn` (complex64)
and cropped back.  Frequencies are in cycles per Å.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

__all__ = ["FourierGrid", "make_grid", "random_spectrum", "spectrum_variance", "PAD_VOXELS"]

#: Minimum zero padding per axis, voxels.
PAD_VOXELS = 16


@dataclass(frozen=True)
class FourierGrid:
    """Frequencies of the padded rfft grid.

    Attributes
    ----------
    shape : tuple of 3 int
        Padded real shape (z, y, x).
    crop : tuple of 3 int
        Original volume shape (z, y, x).
    voxel_size_angstrom : float
        Voxel size in Å.
    kz, ky : numpy.ndarray, float32, shapes (shape[0],), (shape[1],)
        Full FFT frequencies in cycles/Å.
    kx : numpy.ndarray, float32, shape (shape[2] // 2 + 1,)
        Half (rfft) frequencies in cycles/Å.
    """

    shape: tuple[int, int, int]
    crop: tuple[int, int, int]
    voxel_size_angstrom: float
    kz: np.ndarray
    ky: np.ndarray
    kx: np.ndarray

    @property
    def spectrum_shape(self) -> tuple[int, int, int]:
        """Shape of the rfft half spectrum (z, y, x // 2 + 1)."""
        return (self.shape[0], self.shape[1], self.shape[2] // 2 + 1)

    @property
    def size(self) -> int:
        """Number of real voxels of the padded volume."""
        return self.shape[0] * self.shape[1] * self.shape[2]

    def k2_plane(self, iz: int) -> np.ndarray:
        """|k|² in Å⁻² of the spectrum plane ``iz``, float32, shape (ny, nx // 2 + 1)."""
        return self.kz[iz] ** 2 + self.ky[:, None] ** 2 + self.kx[None, :] ** 2

    def mirrored_planes(self) -> list[tuple[int, ...]]:
        """Groups of kz planes with equal |kz| (``iz`` and ``-iz``): compute once, apply to all."""
        n = self.shape[0]
        return [(iz,) if (-iz) % n == iz else (iz, n - iz) for iz in range(n // 2 + 1)]

    def gaussian_factors(self, c: float) -> tuple[np.ndarray, np.ndarray]:
        """Separable factors of ``exp(-c·|k|²)`` (k in Å⁻¹).

        Returns the kz factor, shape (nz,), and the ky-kx factor, shape (ny, nx // 2 + 1).
        """
        c32 = np.float32(c)
        gz = np.exp(-c32 * self.kz**2)
        gyx = np.exp(-c32 * self.ky[:, None] ** 2) * np.exp(-c32 * self.kx[None, :] ** 2)
        return gz, gyx

    def crop_of(self, padded: np.ndarray) -> np.ndarray:
        """View of the original volume inside a padded real array."""
        nz, ny, nx = self.crop
        return padded[:nz, :ny, :nx]


def make_grid(shape_zyx: tuple[int, int, int], voxel_size_angstrom: float) -> FourierGrid:
    """Padded grid for a volume of ``shape_zyx`` voxels of ``voxel_size_angstrom`` Å."""
    padded = tuple(scipy.fft.next_fast_len(int(n) + PAD_VOXELS, real=True) for n in shape_zyx)
    v = float(voxel_size_angstrom)
    kz = np.fft.fftfreq(padded[0], d=v).astype(np.float32)
    ky = np.fft.fftfreq(padded[1], d=v).astype(np.float32)
    kx = np.fft.rfftfreq(padded[2], d=v).astype(np.float32)
    return FourierGrid(padded, tuple(int(n) for n in shape_zyx), v, kz, ky, kx)  # type: ignore[arg-type]


def random_spectrum(rng: np.random.Generator, grid: FourierGrid) -> np.ndarray:
    """Spectrum of a white random field on the padded grid, complex64.

    Real and imaginary parts are independent, zero-mean uniform variates (cheaper
    than normal ones; the real-space field is Gaussian to excellent approximation
    because every voxel sums millions of independent terms).  The kx = 0 and Nyquist
    planes are made Hermitian, which is what ``irfftn`` does implicitly, so that
    :func:`spectrum_variance` is exact.  The DC term is zero.

    Returns
    -------
    numpy.ndarray, complex64, shape ``grid.spectrum_shape``
    """
    raw = np.empty((*grid.spectrum_shape, 2), dtype=np.float32)
    rng.random(out=raw, dtype=np.float32)
    raw -= np.float32(0.5)
    spec = raw.view(np.complex64)[..., 0]
    planes = [0] + ([grid.shape[2] // 2] if grid.shape[2] % 2 == 0 else [])
    for ix in planes:
        plane = spec[:, :, ix]
        flipped = np.roll(plane[::-1, ::-1], 1, axis=(0, 1))  # value at (-kz, -ky)
        spec[:, :, ix] = np.float32(0.5) * (plane + np.conj(flipped))
    spec[0, 0, 0] = 0
    return spec


def spectrum_variance(spec: np.ndarray, grid: FourierGrid) -> float:
    """Real-space variance (about the mean) of ``irfftn(spec)`` on the padded grid (Parseval).

    Parameters
    ----------
    spec : numpy.ndarray, complex, shape ``grid.spectrum_shape``
        A half spectrum whose kx = 0 and Nyquist planes are Hermitian.
    grid : FourierGrid

    Returns
    -------
    float
        Mean of squares minus the squared mean over the padded volume.
    """
    flat = spec.reshape(-1)
    total = 2.0 * float(np.vdot(flat, flat).real)
    planes = [0] + ([grid.shape[2] // 2] if grid.shape[2] % 2 == 0 else [])
    for ix in planes:
        plane = np.ascontiguousarray(spec[:, :, ix]).reshape(-1)
        total -= float(np.vdot(plane, plane).real)
    dc = abs(complex(spec[0, 0, 0])) ** 2
    n = float(grid.size)
    return max((total - dc) / (n * n), 0.0)
