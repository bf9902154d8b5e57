from framescope.inference import predict, predict_proba
from framescope.modeling import load_artifact


def test_tiny_artifact_roundtrip(tiny_artifact):
    art = load_artifact(tiny_artifact)
    probs = predict_proba(art, ["apples orchard", "boats"])
    assert probs.shape == (2, 3)
    assert ((probs >= 0) & (probs <= 1)).all()
    assert isinstance(predict(art, "apples"), list)
