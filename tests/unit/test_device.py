"""training/device.py: the AMP rule (native bf16 only), the scaler, OOM detection, devices."""

from __future__ import annotations

import pytest
import torch

from trainlab.training import device

CUDA = torch.device("cuda")


def fake_gpu(monkeypatch: pytest.MonkeyPatch, *, native_bf16: bool) -> None:
    """A GPU whose bf16 is native (Ampere+) or only emulated (a T4): the real query's shape."""

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return native_bf16 or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)


def test_amp_picks_bf16_where_the_gpu_has_it_natively(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, native_bf16=True)
    assert device.amp_dtype(CUDA, enabled=True) == torch.bfloat16


def test_amp_picks_fp16_where_bf16_is_only_emulated(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, native_bf16=False)
    assert device.amp_dtype(CUDA, enabled=True) == torch.float16


def test_amp_is_off_on_cpu_whatever_the_gpu_says(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpu(monkeypatch, native_bf16=True)
    assert device.amp_dtype(torch.device("cpu"), enabled=True) is None


@pytest.mark.parametrize(
    ("dtype", "scales"), [(torch.float16, True), (torch.bfloat16, False), (None, False)]
)
def test_only_fp16_gets_a_scaling_grad_scaler(dtype: torch.dtype | None, scales: bool) -> None:
    assert device.grad_scaler(torch.device("cpu"), dtype).is_enabled() is scales


def test_autocast_is_a_no_op_without_an_amp_dtype() -> None:
    with device.autocast(torch.device("cpu"), None):
        assert not torch.is_autocast_enabled("cpu")


def test_oom_is_recognised_in_both_forms() -> None:
    assert device.is_oom(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert device.is_oom(RuntimeError("DefaultCPUAllocator: out of memory"))
    assert not device.is_oom(RuntimeError("shape mismatch"))


def test_simulated_oom_fires_only_above_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(device.SIMULATE_OOM_ENV, "32")
    limit = device.simulated_oom_limit()
    device.raise_simulated_oom(32, limit)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        device.raise_simulated_oom(64, limit)


def test_a_bad_simulated_oom_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(device.SIMULATE_OOM_ENV, "lots")
    with pytest.raises(ValueError, match=device.SIMULATE_OOM_ENV):
        device.simulated_oom_limit()


def test_an_unusable_device_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        device.resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        device.resolve_device("tpu-ish")
