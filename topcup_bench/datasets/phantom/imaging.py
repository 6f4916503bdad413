"""Single-FFT Fourier imaging model (§2.4–2.5 of the phantom specification).

::

    S        = rfftn(pad(density)) [+ 1/f background spectrum]
    signal_f = crop(irfftn(S · W · T_f · E))          T_wbp = -CTF, T_denoised = |CTF|
    noise    = irfftn(N · W)                           N white, W the wedge
    wbp      = unit_std(signal) + noise_sigma · unit_std(noise)
    denoised = G_σ * (unit_std(signal) + noise_sigma · d · unit_std(noise))
    output   = ±(x - mean) / std                       (negated when protein_dark)

W keeps |kz| ≤ tan(half angle)·|kx| (tilt axis y; the kz = 0 plane always), E is
the envelope exp(-B·k²/4) and G_σ a Gaussian low-pass applied in Fourier space.
The signed transfer of ``wbp`` is -CTF so that its first lobe passes density with
the polarity of the phase-flipped flavours; beyond the first zero it reverses.
The noise is shared by all flavours of one run.  Everything is float32/complex64
on one padded grid (:mod:`.fourier`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.fft

from topcup_bench.datasets.phantom.clutter import add_background
from topcup_bench.datasets.phantom.fourier import (
    FourierGrid,
    make_grid,
    random_spectrum,
    spectrum_variance,
)
from topcup_bench.datasets.phantom.presets import FLAVOURS, PhantomPreset

__all__ = ["ctf", "wedge_mask", "image_density"]


def ctf(
    k: np.ndarray | float,
    defocus_angstrom: float,
    *,
    wavelength_angstrom: float,
    cs_angstrom: float,
    amplitude_contrast: float,
) -> np.ndarray:
    """Weak-phase contrast transfer function.

    ``CTF(k) = -[sqrt(1 - A²)·sin χ + A·cos χ] = -sin(χ + arcsin A)`` with
    ``χ = π·λ·Δf·k² - π/2·Cs·λ³·k⁴``.

    Parameters
    ----------
    k : array_like
        Spatial frequency magnitude in Å⁻¹ (cycles per Å).
    defocus_angstrom : float
        Underfocus Δf in Å (positive).
    wavelength_angstrom : float
        Electron wavelength λ in Å (0.0197 at 300 kV).
    cs_angstrom : float
        Spherical aberration in Å (2.7 mm = 2.7e7 Å).
    amplitude_contrast : float
        Amplitude contrast fraction A.

    Returns
    -------
    numpy.ndarray
        CTF values, same shape as ``k`` (float32 for float32 input).
    """
    return _ctf_k2(
        np.square(k), defocus_angstrom, wavelength_angstrom, cs_angstrom, amplitude_contrast
    )


def _ctf_k2(k2, defocus, lam, cs, amplitude_contrast) -> np.ndarray:
    """CTF as a function of k² (Å⁻²), one transcendental per point."""
    a = math.pi * lam * defocus
    b = -0.5 * math.pi * cs * lam**3
    phase = math.asin(amplitude_contrast)
    chi = k2 * (a + b * k2) + phase
    return -np.sin(chi)


def wedge_mask(grid: FourierGrid, iz: int, half_angle_deg: float) -> np.ndarray:
    """Sampled (1) or missing (0) Fourier points of plane ``iz``, float32, shape (1, nx // 2 + 1).

    A point is sampled when ``|kz| ≤ tan(half_angle)·|kx|``; the kz = 0 plane is
    always sampled and ky is not restricted (tilt axis y).
    """
    kz = abs(float(grid.kz[iz]))
    if kz == 0.0:
        return np.ones((1, grid.kx.size), dtype=np.float32)
    slope = math.tan(math.radians(half_angle_deg))
    return (kz <= slope * np.abs(grid.kx))[None, :].astype(np.float32)


def _filter_signal(spectrum, grid, preset, defocus, flavour) -> np.ndarray:
    """New half spectrum ``S · W · T_f · E`` (complex64), plane by plane (|kz| pairs share work)."""
    out = np.empty_like(spectrum)
    ez, eyx = grid.gaussian_factors(preset.b_factor / 4.0)
    lam, cs = preset.wavelength_angstrom, preset.cs_mm * 1e7
    for planes in grid.mirrored_planes():
        iz = planes[0]
        t = _ctf_k2(grid.k2_plane(iz), defocus, lam, cs, preset.amplitude_contrast)
        t = np.abs(t) if flavour == "denoised" else np.negative(t, out=t)
        t *= eyx
        t *= wedge_mask(grid, iz, preset.wedge_half_angle_deg) * ez[iz]
        for jz in planes:
            np.multiply(spectrum[jz], t, out=out[jz])
    return out


def _moments(x: np.ndarray) -> tuple[float, float]:
    """Mean and std of a (possibly strided) 3-D array, plane by plane, without big temporaries."""
    total, squares = 0.0, 0.0
    for plane in x:
        total += float(plane.sum(dtype=np.float64))
        squares += float(np.square(plane).sum(dtype=np.float64))
    n = x.size
    mean = total / n
    std = math.sqrt(max(squares / n - mean * mean, 0.0))
    return mean, (std if std > 0 else 1.0)


def image_density(
    density: np.ndarray,
    preset: PhantomPreset,
    defocus_angstrom: float,
    rng: np.random.Generator,
    *,
    flavours: Sequence[str] = ("denoised",),
    background_std: float = 0.0,
    workers: int = 1,
) -> dict[str, np.ndarray]:
    """Image a density volume through the wedge, CTF, envelope and noise.

    Parameters
    ----------
    density : numpy.ndarray, float32, shape (nz, ny, nx)
        Protein-positive density (z, y, x); not modified.
    preset : PhantomPreset
        Microscope, wedge, noise and flavour parameters.
    defocus_angstrom : float
        Underfocus of this tomogram in Å.
    rng : numpy.random.Generator
        Source of the background and the noise (background drawn first).
    flavours : sequence of str
        Subset of :data:`~.presets.FLAVOURS`; computed in that canonical order.
    background_std : float
        Std of the 1/f background added before imaging (0 for none).
    workers : int
        scipy.fft worker threads (the output does not depend on it).

    Returns
    -------
    dict of str to numpy.ndarray
        Flavour → float32 volume (z, y, x) of ``density.shape``, zero mean, unit std.
    """
    grid = make_grid(density.shape, preset.voxel_size_angstrom)
    padded = np.zeros(grid.shape, dtype=np.float32)
    grid.crop_of(padded)[...] = density
    spectrum = scipy.fft.rfftn(padded, workers=workers, overwrite_x=True)
    del padded
    add_background(spectrum, grid, rng, std=background_std, exponent=preset.background_exponent)
    noise, noise_std = None, 1.0
    if preset.noise_sigma > 0:
        noise = random_spectrum(rng, grid)
        for iz in range(grid.shape[0]):
            noise[iz] *= wedge_mask(grid, iz, preset.wedge_half_angle_deg)
        noise_std = math.sqrt(max(spectrum_variance(noise, grid), 1e-30))
    lz, lyx = grid.gaussian_factors(
        2.0 * (math.pi * preset.lowpass_sigma_voxels * grid.voxel_size_angstrom) ** 2
    )
    out = {}
    for flavour in (f for f in FLAVOURS if f in flavours):
        filtered = _filter_signal(spectrum, grid, preset, defocus_angstrom, flavour)
        real = scipy.fft.irfftn(filtered, s=grid.shape, workers=workers)
        lowpass = flavour == "denoised"
        if noise is not None or lowpass:
            _, std = _moments(grid.crop_of(real))
            del real
            scale = preset.noise_sigma * (preset.denoise_factor if lowpass else 1.0) / noise_std
            for iz in range(grid.shape[0]):
                g = lyx * lz[iz] if lowpass else np.float32(1.0)
                filtered[iz] *= g / np.float32(std)
                if noise is not None:
                    filtered[iz] += noise[iz] * (g * np.float32(scale))
            real = scipy.fft.irfftn(filtered, s=grid.shape, workers=workers, overwrite_x=True)
        del filtered
        crop = grid.crop_of(real)
        mean, std = _moments(crop)
        volume = np.empty(crop.shape, dtype=np.float32)
        np.subtract(crop, np.float32(mean), out=volume)
        volume *= np.float32(-1.0 / std if preset.protein_dark else 1.0 / std)
        out[flavour] = volume
    return out
