"""The Fourier imaging model: wedge, CTF and the missing-wedge elongation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from topcup_bench.datasets.phantom import (
    clean_primitive,
    ctf,
    electron_wavelength_angstrom,
    generate_run,
    image_density,
)
from topcup_bench.datasets.phantom.fourier import make_grid, random_spectrum, spectrum_variance
from topcup_bench.datasets.phantom.imaging import wedge_mask


def missing_wedge_energy_fraction(volume: np.ndarray, half_angle_deg: float = 45.0) -> float:
    """Fourier energy inside the missing wedge over the energy outside it.

    A Hann window suppresses the leakage of the crop's faces, and the wedge is
    shrunk by one z-frequency bin (the window's spectral width).
    """
    nz, ny, nx = volume.shape
    x = volume.astype(np.float64) - volume.mean()
    x *= np.hanning(nz)[:, None, None] * np.hanning(ny)[None, :, None] * np.hanning(nx)
    power = np.abs(np.fft.fftn(x)) ** 2
    kz = np.abs(np.fft.fftfreq(nz))[:, None, None]
    kx = np.abs(np.fft.fftfreq(nx))[None, None, :]
    missing = np.broadcast_to(
        kz > math.tan(math.radians(half_angle_deg)) * kx + 1.0 / nz, power.shape
    )
    return float(power[missing].sum() / power[~missing].sum())


@pytest.mark.parametrize("noise_sigma", [0.0, 4.0])
def test_wbp_has_a_missing_wedge(tiny, noise_sigma):
    run = generate_run(tiny.replace(noise_sigma=noise_sigma), 5, flavours=("wbp",))
    assert missing_wedge_energy_fraction(run.volumes["wbp"]) < 0.01
    # control: without a wedge (±90° tilts) the same region holds much energy
    full = generate_run(
        tiny.replace(noise_sigma=noise_sigma, wedge_half_angle_deg=90.0), 5, flavours=("wbp",)
    )
    assert missing_wedge_energy_fraction(full.volumes["wbp"]) > 0.1


def test_denoised_has_a_missing_wedge(tiny_run):
    assert missing_wedge_energy_fraction(tiny_run.volumes["denoised"]) < 0.01


def _fwhm(profile: np.ndarray) -> float:
    """Full width at half maximum (voxels, linear interpolation) of a centred peak."""
    c = len(profile) // 2
    half = profile[c] / 2
    widths = []
    for step in (1, -1):
        i = c
        while profile[i + step] > half:
            i += step
        a, b = profile[i], profile[i + step]
        widths.append(abs(i - c) + (a - half) / (a - b))
    return sum(widths)


def _autocorrelation_widths(volume: np.ndarray) -> tuple[float, float]:
    n = volume.shape[0]
    spectrum = np.fft.rfftn(volume - volume.mean())
    ac = np.fft.fftshift(np.fft.irfftn(np.abs(spectrum) ** 2, s=volume.shape, axes=(0, 1, 2)))
    c = n // 2
    return _fwhm(ac[:, c, c]), _fwhm(ac[c, c, :])


@pytest.mark.parametrize("flavour", ["wbp", "denoised"])
def test_single_particle_elongated_along_z(tiny, flavour):
    n = 64
    volume = np.zeros((n, n, n), dtype=np.float32)
    particle = clean_primitive("apo-ferritin", 10.0)
    s, size = n // 2 - particle.shape[0] // 2, particle.shape[0]
    volume[s : s + size, s : s + size, s : s + size] = particle
    clean_z, clean_x = _autocorrelation_widths(volume)
    assert clean_z == pytest.approx(clean_x, rel=0.05)  # the primitive is isotropic
    preset = tiny.replace(noise_sigma=0.0, protein_dark=False)
    imaged = image_density(volume, preset, 3e4, np.random.default_rng(0), flavours=(flavour,))
    width_z, width_x = _autocorrelation_widths(imaged[flavour])
    assert width_z > 1.4 * width_x


def test_ctf_hand_computed_value():
    lam, df, cs, a, k = 0.0197, 3.0e4, 2.7e7, 0.07, 0.02
    # chi = pi*lam*df*k^2 - pi/2*Cs*lam^3*k^4, computed by hand:
    # pi * 0.0197 * 30000 * 4e-4 = 0.7426725033; pi/2 * 2.7e7 * 7.645373e-6 * 1.6e-7 = 5.18803e-5
    chi = 0.7426725033 - 5.18803e-5
    expected = -(math.sqrt(1 - a * a) * math.sin(chi) + a * math.cos(chi))
    assert expected == pytest.approx(-0.72613, abs=1e-5)
    value = ctf(k, df, wavelength_angstrom=lam, cs_angstrom=cs, amplitude_contrast=a)
    assert float(value) == pytest.approx(expected, abs=1e-7)
    # only amplitude contrast at k = 0; the first lobe is negative
    assert float(
        ctf(0.0, df, wavelength_angstrom=lam, cs_angstrom=cs, amplitude_contrast=a)
    ) == pytest.approx(-a)


def test_ctf_first_zero():
    lam, df = 0.0197, 3.0e4
    k0 = 1 / math.sqrt(lam * df)  # 24.3 Å
    assert 1 / k0 == pytest.approx(24.31, abs=0.01)
    values = ctf(
        np.array([0.9 * k0, k0, 1.1 * k0]),
        df,
        wavelength_angstrom=lam,
        cs_angstrom=0.0,
        amplitude_contrast=0.0,
    )
    assert values[0] < 0 < values[2] and abs(values[1]) < 1e-9


def test_wavelength_300kv():
    assert electron_wavelength_angstrom(300.0) == pytest.approx(0.01969, abs=1e-5)


def test_wedge_mask_rule():
    grid = make_grid((32, 32, 32), 10.0)
    assert wedge_mask(grid, 0, 45.0).all()  # kz = 0 plane kept
    mask = wedge_mask(grid, 3, 45.0)[0]
    kz = abs(grid.kz[3])
    np.testing.assert_array_equal(mask.astype(bool), kz <= np.abs(grid.kx))
    assert mask[0] == 0


def test_random_spectrum_variance_is_exact():
    grid = make_grid((20, 24, 22), 10.0)
    spec = random_spectrum(np.random.default_rng(1), grid)
    import scipy.fft

    real = scipy.fft.irfftn(spec, s=grid.shape)
    assert spectrum_variance(spec, grid) == pytest.approx(float(real.var()), rel=1e-5)
