"""The distillation losses against values worked out by hand."""

import math

import pytest
import torch

from telme.training.losses import feature_distillation_loss, response_distillation_loss, row_pearson


def logits_of(probabilities, temperature=1.0):
    """Logits whose softmax at `temperature` gives exactly `probabilities`."""
    return temperature * torch.log(torch.tensor(probabilities, dtype=torch.float64))


def test_row_pearson_hand_values():
    # centred x30: (5, -1, -4) and (-4, -1, 5): dot -39, both squared norms 42
    r = row_pearson(torch.tensor([[0.5, 0.3, 0.2]]), torch.tensor([[0.2, 0.3, 0.5]]))
    assert r.item() == pytest.approx(-13 / 14, abs=1e-6)
    assert row_pearson(torch.tensor([[1.0, 2.0, 4.0]]), torch.tensor([[3.0, 5.0, 9.0]])).item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 2.0, 4.0])
def test_response_loss_hand_value(temperature):
    student = logits_of([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]], temperature)
    teacher = logits_of([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], temperature)
    # inter: rows correlate -13/14 and 1 -> 1 - (1/28) / 1 ... mean = (1 - 13/14) / 2 = 1/28
    inter = 1 - 1 / 28
    # intra: every class column has a constant side (teacher rows equal or student column equal) -> r = 0
    intra = 1.0
    loss = response_distillation_loss(student, teacher, temperature)
    assert loss.item() == pytest.approx(temperature**2 * (inter + intra), rel=1e-5)


def test_response_loss_two_classes_anticorrelated():
    student = logits_of([[0.8, 0.2], [0.1, 0.9]])
    teacher = logits_of([[0.3, 0.7], [0.6, 0.4]])
    # every row and every column is exactly anti-correlated: inter = intra = 2
    assert response_distillation_loss(student, teacher, 1.0).item() == pytest.approx(4.0, rel=1e-5)
    weighted = response_distillation_loss(student, teacher, 1.0, beta=0.5, gamma=0.0)
    assert weighted.item() == pytest.approx(1.0, rel=1e-5)


def test_response_loss_zero_when_equal():
    logits = torch.randn(5, 7)
    assert response_distillation_loss(logits, logits.clone()).item() == pytest.approx(0.0, abs=1e-5)


def test_feature_loss_hand_value():
    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    student = torch.tensor([[0.0, 5.0], [3.0, 0.0]])  # swapped directions; lengths do not matter
    # p rows = softmax([1, 0]) = (a, b); q rows = softmax([0, 1]) = (b, a): KL = (a - b) * log(a / b) = (a - b)
    a, b = math.e / (1 + math.e), 1 / (1 + math.e)
    assert feature_distillation_loss(student, teacher).item() == pytest.approx(a - b, rel=1e-5)


def test_feature_loss_zero_for_same_directions_and_temperature_sharpens():
    teacher = torch.randn(6, 8)
    assert feature_distillation_loss(3 * teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.randn(6, 8)
    assert feature_distillation_loss(student, teacher, 0.1) > feature_distillation_loss(student, teacher, 1.0)
