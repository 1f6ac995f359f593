import json

import pytest

from search_space.spec import ArchSpec, SpecError


def test_json_and_params_round_trip():
    spec = ArchSpec(backbone="resnet", fusion_site="pyramid", branches="1,2", downsample="maxpool_conv",
                    merge="sk", detach=True, alpha=4, sc_add=True, sc_inverse=False)
    hcnn = ArchSpec(backbone="resnet", alpha=4, combination="cl", cl_layers=3, partner_backbone="vgg",
                    hcnn_finetune=True)
    for s in (spec, hcnn):
        assert ArchSpec.from_json(s.to_json()) == s
        assert ArchSpec.from_params(s.to_params()) == s
    assert hcnn.fusion_site is None and hcnn.fusion is None  # HCNN combines base networks
    assert json.loads(spec.to_json())["branches"] == [1, 2]
    assert spec.to_params()["branches"] == "1,2"
    assert all(isinstance(v, (str, int, bool)) for v in spec.to_params().values())


def test_defaults_fill_only_what_applies():
    gap = ArchSpec(fusion="lc", branches=(2, 1))
    assert gap.branches == (1, 2) and gap.strategy == "eflp" and gap.downsample is None
    pyr = ArchSpec(fusion_site="pyramid")
    assert pyr.fusion is None and pyr.downsample == "avgpool_conv" and pyr.merge == "sk_softmax"
    assert ArchSpec(alpha=2).sc_inverse is True
    assert ArchSpec(alpha=2, sc_add=False).sc_inverse is None
    assert ArchSpec() == ArchSpec(fusion="none", branches="none")
    assert ArchSpec().key() == ArchSpec(branches=()).key() != ArchSpec(width=16).key()


@pytest.mark.parametrize("kwargs, words", [
    (dict(fusion="max"), ["fusion", "'lc'", "'sum'"]),
    (dict(downsample="maxpool"), ["downsample", "pyramid"]),
    (dict(fusion="lc", branches="3"), ["branches", "stage 3", "1..2"]),
    (dict(fusion="lc", branches="5"), ["branches", "stage 5"]),
    (dict(alpha=8, width=12), ["alpha=8", "width=12"]),
    (dict(alpha=3), ["alpha", "1, 2, 4, 8"]),
    (dict(backbone="alexnet"), ["backbone", "'plain'", "tv:"]),
    (dict(branches="1"), ["other than 'none'", "branches"]),
    (dict(fusion="sum", branches="none"), ["branches='none'", "fusion='none'", "at least one side branch"]),
    (dict(fusion_site="pyramid", branches="none"), ["fusion_site='pyramid'", "fusion_site='gap', fusion='none'"]),
    (dict(combination="cl", cl_layers=1, cl_width=64), ["cl_width", "cl_layers >= 2"]),
    (dict(width=100000), ["width", "at most 4096"]),
    (dict(merge="se"), ["merge", "pyramid"]),
    (dict(fusion="lc", combination="avg"), ["fusion='lc'", "fusion_site='gap'"]),
    (dict(fusion_site="gap", combination="cl"), ["fusion_site", "combination='single'"]),
    (dict(fusion="concat", strategy="eplf"), ["strategy", "concat"]),
    (dict(alpha=2, sc_add=False, sc_inverse=True), ["sc_inverse", "sc_add"]),
    (dict(cl_layers=2), ["cl_layers", "combination='cl'"]),
    (dict(combination="cl", cl_layers=4), ["cl_layers", "1, 2, 3"]),
    (dict(width=0), ["width"]),
])
def test_invalid_specs_name_the_key_and_the_allowed_values(kwargs, words):
    with pytest.raises(SpecError) as err:
        ArchSpec(**kwargs)
    for w in words:
        assert w in str(err.value)


def test_from_params_rejects_unknown_keys():
    with pytest.raises(SpecError, match="'fusoin'"):
        ArchSpec.from_params({"fusoin": "lc"})


def test_partner_and_single():
    spec = ArchSpec(alpha=2, combination="avg", partner_backbone="vgg", partner_width=16)
    assert spec.partner() == ArchSpec(backbone="vgg", width=16, depth=2)
    assert spec.single() == ArchSpec(alpha=2)


def test_homogeneous_partner_is_a_exactly():
    """HCNN's [A,A']: B of A's architecture is A, alpha and SC parts included, trained with another seed."""
    from search_space.build import build_model

    for kw in (dict(alpha=4), dict(alpha=2, sc_add=False), dict(alpha=8, sc_inverse=False)):
        spec = ArchSpec(backbone="plain", width=16, depth=1, combination="avg", partner_backbone="plain",
                        partner_width=16, partner_depth=1, **kw)
        assert spec.partner() == spec.single() == ArchSpec(backbone="plain", width=16, depth=1, **kw)
        a, b = build_model(spec, 10, 1, 28).nets
        assert repr(a) == repr(b)
    other = ArchSpec(backbone="plain", width=16, alpha=4, combination="avg", partner_backbone="plain",
                     partner_width=32)
    assert other.partner() == ArchSpec(backbone="plain", width=32)  # heterogeneous: B's baseline net
    named = ArchSpec(backbone="resnet32", alpha=2, combination="cl", cl_layers=1, partner_backbone="resnet32")
    assert named.partner() == ArchSpec(backbone="resnet32", alpha=2)


def test_side_channels_cut_by_the_combination_network_is_not_a_key():
    """cl_layers >= 2 removes the K-channel 1x1 conv of a plain base: K would change nothing built."""
    with pytest.raises(SpecError, match="side_channels=32 applies only with .*cl_layers >= 2"):
        ArchSpec(backbone="plain", combination="cl", cl_layers=2, side_channels=32)
    assert ArchSpec(backbone="plain", combination="cl", cl_layers=2).side_channels is None
    assert ArchSpec(backbone="plain", combination="cl", cl_layers=1, side_channels=32).side_channels == 32
    assert ArchSpec(backbone="vgg", combination="avg", partner_backbone="plain", side_channels=32).partner() == \
        ArchSpec(backbone="plain", side_channels=32)  # a plain partner's K applies


def test_field_defaults_come_from_the_vocabulary():
    import dataclasses

    from search_space.dimensions import DIMENSIONS

    assert all(f.default is None for f in dataclasses.fields(ArchSpec))
    spec = ArchSpec()
    for dim in DIMENSIONS:
        if dim.applies(spec.to_params()) and not callable(dim.default):
            assert getattr(spec, dim.name) == dim.default, dim.name
