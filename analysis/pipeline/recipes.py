"""The reproduction recipes as data: which detectors and ablations train on what, what is tested and stressed.

`demo` runs on this laptop-class machine in minutes per model: the embedded FBI-Demo (train) and the
cross-domain FBI-Demo-X (test), tiny random-init ViTs (the *_demo.yaml configs, as shipped). `ffpp` is the
published protocol: train on FF++ c23, test on the cross-dataset benchmarks, real (pretrained) configs.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Model:
    key: str  # folder stem of its runs
    label: str  # row label in the tables
    yaml: str  # detector YAML (name in training/config/detector)
    role: str  # main (cross-dataset table) | ablation | both
    opts: tuple[str, ...] = ()  # --opts of this model's runs in the recipe (before the command line's)


@dataclass(frozen=True)
class Recipe:
    name: str
    train: list[str]
    test: list[str]
    models: list[Model]
    reference: str  # key of the reference row (paired tests)
    robustness: list[str]  # model keys stress-tested
    robustness_sets: list[str]
    cost_yamls: list[str]  # measured with speed
    cost_yamls_static: list[str] = field(default_factory=list)  # params / FLOPs only
    seeds: tuple[int, ...] = (1,)
    note: str = ""
    probe: tuple[str, ...] | None = None  # model keys of the identity probe (None: every FBI-CLIP model)


# The FBI-CLIP family of the demo recipe trains FBI_DEMO_EPOCHS epochs instead of fbi_clip_demo.yaml's 14
# (its 14-epoch run selected epoch 10 on validation), so the chain — 5 FBI-CLIP-sized trainings, CLIP
# (its YAML's 8 epochs), robustness of two models, the identity probe of FBI-CLIP with and without its
# identity head, tables, cost, figures — fits in 30 min on 2 idle cores.
FBI_DEMO_EPOCHS = ("nEpochs=10",)

DEMO = Recipe(
    name="demo",
    train=["FBI-Demo"],
    test=["FBI-Demo", "FBI-Demo-X"],
    models=[
        Model("fbi_clip", "FBI-CLIP", "fbi_clip_demo.yaml", "both", FBI_DEMO_EPOCHS),
        Model("clip", "CLIP (full fine-tune)", "clip_demo.yaml", "main"),
        Model("no_freq", "− frequency adapter", "fbi_clip_demo_no_freq.yaml", "ablation", FBI_DEMO_EPOCHS),
        Model(
            "no_boundary", "− boundary mining", "fbi_clip_demo_no_boundary.yaml", "ablation", FBI_DEMO_EPOCHS
        ),
        Model(
            "no_identity", "− identity head", "fbi_clip_demo_no_identity.yaml", "ablation", FBI_DEMO_EPOCHS
        ),
        Model(
            "ln_l2_baseline",
            "L2 + cosine head only",
            "fbi_clip_demo_ln_l2_baseline.yaml",
            "both",
            FBI_DEMO_EPOCHS,
        ),
    ],
    reference="fbi_clip",
    robustness=["fbi_clip", "clip"],
    robustness_sets=["FBI-Demo"],
    probe=("fbi_clip", "no_identity"),  # the question it answers: what the identity head removes
    cost_yamls=["fbi_clip_demo.yaml", "clip_demo.yaml"],
    cost_yamls_static=[
        "fbi_clip.yaml",
        "clip.yaml",
        "clip_linear_probe.yaml",
        "xception.yaml",
        "efficientnetb4.yaml",
    ],
    note=(
        "Tiny random-init ViTs (width 192, 6 blocks, 64 px) trained from scratch on 60 identities of the embedded "
        "demo; the numbers show the pipeline working, not what FBI-CLIP does with pretrained CLIP on FF++."
    ),
)

FFPP_TESTS = ["Celeb-DF-v2", "DeepFakeDetection", "DFDC", "DFDCP", "FFIW", "DeepSpeak"]

FFPP = Recipe(
    name="ffpp",
    train=["FaceForensics++"],
    test=FFPP_TESTS,
    models=[
        Model("fbi_clip", "FBI-CLIP", "fbi_clip.yaml", "both"),
        Model("clip", "CLIP LN-tuning (GenD)", "clip.yaml", "main"),
        Model("clip_linear_probe", "CLIP linear probe", "clip_linear_probe.yaml", "main"),
        Model("xception", "Xception", "xception.yaml", "main"),
        Model("efficientnetb4", "EfficientNet-B4", "efficientnetb4.yaml", "main"),
        Model("no_freq", "− frequency adapter", "fbi_clip_no_freq.yaml", "ablation"),
        Model("no_boundary", "− boundary mining", "fbi_clip_no_boundary.yaml", "ablation"),
        Model("no_identity", "− identity head", "fbi_clip_no_identity.yaml", "ablation"),
        Model("ln_l2_baseline", "LN + L2 baseline", "fbi_clip_ln_l2_baseline.yaml", "both"),
    ],
    reference="fbi_clip",
    robustness=["fbi_clip", "clip"],
    robustness_sets=["Celeb-DF-v2"],
    cost_yamls=[
        "fbi_clip.yaml",
        "clip.yaml",
        "clip_linear_probe.yaml",
        "xception.yaml",
        "efficientnetb4.yaml",
    ],
    seeds=(1, 2, 3),
    note="FF++ c23 training, cross-dataset video AUC (docs/DESIGN.md §9); published numbers to compare with are in docs/DESIGN.md §9.",
)

KNOWN = {"fbi_clip", "clip", "xception", "efficientnetb4"}


def rival_models(suffix: str = "") -> list[Model]:
    """One main-table row per other registered detector that ships `<name><suffix>.yaml` (the rivals)."""
    import training.detectors  # noqa: F401  (fills the registry)
    from analysis.pipeline.plan import DETECTOR_DIR
    from training.registry import DETECTORS

    return [Model(n, DETECTORS.get(n).display_name or n, f"{n}{suffix}.yaml", "main") for n in DETECTORS.names()
            if n not in KNOWN and (DETECTOR_DIR / f"{n}{suffix}.yaml").is_file()]  # fmt: skip


def with_rivals(recipe: Recipe) -> Recipe:
    """The recipe plus the rival detectors (demo: their `<name>_demo.yaml`; ffpp: `<name>.yaml`)."""
    from dataclasses import replace

    extra = rival_models("_demo" if recipe.name == "demo" else "")
    have = {m.key for m in recipe.models}
    added = [m for m in extra if m.key not in have]
    return replace(
        recipe, models=[*recipe.models, *added], cost_yamls=[*recipe.cost_yamls, *[m.yaml for m in added]]
    )


RECIPES = {"demo": DEMO, "ffpp": FFPP}
