from framescope.modeling import load_artifact


def test_tiny_artifact_roundtrip(tiny_artifact):
    art = load_artifact(tiny_artifact)
    probs = art.predict_proba(["apples orchard", "boats"])
    assert probs.shape == (2, 3)
    assert ((probs >= 0) & (probs <= 1)).all()
    assert isinstance(art.predict("apples"), list)
