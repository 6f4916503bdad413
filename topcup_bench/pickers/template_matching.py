"""Fast local correlation (FLCF) of a volume with masked templates, by FFT.

The core of the ``template`` picker (§4.1 of the phantom specification)::

    V̂   = rfftn(pad(V)),  V̂₂ = rfftn(pad(V²))                 once per tomogram
    μ   = (M ⋆ V) / N,    σ = sqrt((M ⋆ V²) / N - μ²)          once per mask
    ncc = (T ⋆ V) / (N · σ)                                    once per template

``⋆`` is the cross-correlation ``(A ⋆ V)(x) = Σ_r A(r) V(x + r)`` with ``r``
relative to the box centre, ``M`` a binary spherical mask of ``N`` voxels and
``T`` a template normalised to zero mean and unit std under ``M`` (zero
outside), so that ``ncc`` is the Pearson correlation of the template with the
masked neighbourhood of every voxel, in [-1, 1].

The volume is zero-padded at the end of each axis to fast FFT lengths of at
least ``n + half box`` so that circular correlation cannot wrap density across
faces; everything is float32/complex64.  :func:`fourier_weight` builds the
"constrained" template weighting (missing wedge × |CTF| × B envelope).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft

from topcup_bench.datasets.phantom import ctf, electron_wavelength_angstrom
from topcup_bench.errors import InputError

__all__ = [
    "FlcfVolume",
    "spherical_mask",
    "normalise_under_mask",
    "fourier_weight",
    "apply_fourier_weight",
]

#: Floor of the local std, relative to the volume's (unit) std: flat regions give ncc ≈ 0.
_STD_FLOOR = 1e-3


def spherical_mask(radius_voxels: float) -> np.ndarray:
    """Binary ball of ``radius_voxels`` in a cube of side ``2·ceil(radius) + 1`` (float32)."""
    if not (math.isfinite(radius_voxels) and radius_voxels > 0):
        raise InputError("template mask", f"radius must be > 0 voxels, got {radius_voxels!r}")
    half = int(math.ceil(radius_voxels))
    g = np.arange(-half, half + 1, dtype=np.float32)
    d2 = g[:, None, None] ** 2 + g[None, :, None] ** 2 + g[None, None, :] ** 2
    return (d2 <= np.float32(radius_voxels) ** 2).astype(np.float32)


def normalise_under_mask(template: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Template with zero mean and unit std inside ``mask`` and zero outside (float32).

    Raises
    ------
    InputError
        A template that is constant under the mask.
    """
    inside = mask > 0
    values = template[inside].astype(np.float64)
    std = values.std()
    if not std > 0:
        raise InputError("template", "the template is constant under its mask")
    out = np.zeros(template.shape, dtype=np.float32)
    out[inside] = ((values - values.mean()) / std).astype(np.float32)
    return out


def fourier_weight(
    box: int,
    voxel_size_angstrom: float,
    *,
    wedge_half_angle_deg: float,
    defocus_angstrom: float,
    voltage_kv: float,
    cs_mm: float,
    amplitude_contrast: float,
    b_factor: float,
) -> np.ndarray:
    """Half-spectrum weight ``W(kx, kz) · |CTF(k)| · exp(-B k² / 4)`` of a cubic box.

    ``W`` keeps ``|kz| ≤ tan(half angle) · |kx|`` (tilt axis y, beam along z;
    the kz = 0 plane always), as the data's missing wedge.

    Parameters
    ----------
    box : int
        Cube side in voxels.
    voxel_size_angstrom : float
        Voxel size in Å (frequencies in cycles per Å).

    Returns
    -------
    numpy.ndarray, float32, shape (box, box, box // 2 + 1)
        Weight of the ``rfftn`` half spectrum, axes (kz, ky, kx).
    """
    kz = scipy.fft.fftfreq(box, d=voxel_size_angstrom).astype(np.float32)[:, None, None]
    ky = scipy.fft.fftfreq(box, d=voxel_size_angstrom).astype(np.float32)[None, :, None]
    kx = scipy.fft.rfftfreq(box, d=voxel_size_angstrom).astype(np.float32)[None, None, :]
    k2 = kz * kz + ky * ky + kx * kx
    slope = np.float32(math.tan(math.radians(wedge_half_angle_deg)))
    wedge = (np.abs(kz) <= slope * np.abs(kx)) | (kz == 0)
    transfer = np.abs(
        ctf(
            np.sqrt(k2),
            defocus_angstrom,
            wavelength_angstrom=electron_wavelength_angstrom(voltage_kv),
            cs_angstrom=cs_mm * 1e7,
            amplitude_contrast=amplitude_contrast,
        )
    )
    envelope = np.exp(np.float32(-b_factor / 4.0) * k2)
    return (wedge * transfer * envelope).astype(np.float32)


def apply_fourier_weight(density: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Filter a cubic box (centred at ``box // 2``) by a real half-spectrum weight (float32)."""
    spectrum = scipy.fft.rfftn(density.astype(np.float32, copy=False))
    spectrum *= weight
    return scipy.fft.irfftn(spectrum, s=density.shape).astype(np.float32, copy=False)


class FlcfVolume:
    """A volume prepared for fast local correlation with boxes of half side ≤ ``max_half``.

    Parameters
    ----------
    volume : numpy.ndarray, shape (nz, ny, nx)
        Data, protein bright, ideally zero mean and unit std (padding is zero).
    max_half : int
        Largest half side (voxels) of the masks and templates to correlate.
    workers : int
        scipy.fft worker threads (results do not depend on it).

    Notes
    -----
    Holds two half spectra of the padded volume (complex64); each correlation
    allocates one more spectrum and one padded real array.
    """

    def __init__(self, volume: np.ndarray, max_half: int, *, workers: int = 1) -> None:
        if volume.ndim != 3:
            raise InputError("template matching", f"expected a 3-D volume, got {volume.shape}")
        self.shape: tuple[int, int, int] = tuple(int(n) for n in volume.shape)  # type: ignore[assignment]
        self.max_half = int(max_half)
        self.workers = int(workers)
        self.padded_shape = tuple(
            scipy.fft.next_fast_len(n + self.max_half, real=True) for n in self.shape
        )
        nz, ny, nx = self.shape
        buffer = np.zeros(self.padded_shape, dtype=np.float32)
        buffer[:nz, :ny, :nx] = volume
        self.spectrum = scipy.fft.rfftn(buffer, workers=self.workers)
        np.square(buffer, out=buffer)
        self.spectrum_sq = scipy.fft.rfftn(buffer, workers=self.workers, overwrite_x=True)

    def box_spectrum(self, box: np.ndarray) -> np.ndarray:
        """Half spectrum of a cubic box placed with its centre voxel at the origin (wrapped).

        Equal to ``rfftn`` of the padded placement, computed axis by axis on the
        non-zero lines only (x, then y, then z).
        """
        side = box.shape[0]
        half = side // 2
        if box.shape != (side,) * 3 or side % 2 == 0 or half > self.max_half:
            raise InputError(
                "template matching",
                f"boxes must be odd cubes of half side ≤ {self.max_half}, got {box.shape}",
            )
        pz, py, px = self.padded_shape
        iz, iy, ix = ((np.arange(side) - half) % n for n in self.padded_shape)
        lines = np.zeros((side, side, px), dtype=np.float32)
        lines[:, :, ix] = box
        kx = scipy.fft.rfft(lines, axis=2, workers=self.workers)
        planes = np.zeros((side, py, kx.shape[2]), dtype=np.complex64)
        planes[:, iy, :] = kx
        planes = scipy.fft.fft(planes, axis=1, workers=self.workers, overwrite_x=True)
        spectrum = np.zeros((pz, py, kx.shape[2]), dtype=np.complex64)
        spectrum[iz] = planes
        return scipy.fft.fft(spectrum, axis=0, workers=self.workers, overwrite_x=True)

    def correlate(self, box_spectrum: np.ndarray, *, squared: bool = False) -> np.ndarray:
        """``(box ⋆ V)`` (or ``V²``) over the original volume, float32, shape (nz, ny, nx).

        ``box_spectrum`` (from :meth:`box_spectrum`) is left unchanged.  The inverse
        transform is pruned to the lines that reach the original volume.
        """
        product = np.conjugate(box_spectrum)
        product *= self.spectrum_sq if squared else self.spectrum
        nz, ny, nx = self.shape
        w = self.workers
        product = scipy.fft.ifft(product, axis=0, workers=w, overwrite_x=True)[:nz]
        product = scipy.fft.ifft(product, axis=1, workers=w, overwrite_x=True)[:, :ny]
        real = scipy.fft.irfft(product, n=self.padded_shape[2], axis=2, workers=w)
        return real[:, :, :nx]

    def denominator(self, mask: np.ndarray) -> np.ndarray:
        """``N · σ_local`` under ``mask`` at every voxel, float32, shape (nz, ny, nx)."""
        n = float(mask.sum())
        spectrum = self.box_spectrum(mask)
        mean = self.correlate(spectrum)
        mean *= np.float32(1.0 / n)
        out = self.correlate(spectrum, squared=True)
        out *= np.float32(1.0 / n)
        out -= np.square(mean, out=mean)
        np.maximum(out, np.float32(_STD_FLOOR**2), out=out)
        np.sqrt(out, out=out)
        out *= np.float32(n)
        return np.ascontiguousarray(out)

    def ncc(self, template: np.ndarray, denominator: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Normalised cross-correlation of a mask-normalised template, written into ``out``."""
        np.divide(self.correlate(self.box_spectrum(template)), denominator, out=out)
        return out
