"""Every value the user gives is used or asked about: numbers, ranges, names, and answers that replace them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivess.agents.planner import current_plan, plan_reply
from minivess.agents.planner.bounds import BOUNDS
from minivess.agents.planner.plan import build_plan
from minivess.tools.registry import REGISTRY
from tests.unit.agents.planner.support import ALL_TOOLS, SUPERVISOR_TOOLS, SYSTEM, assistant_text, train_history, user


def _plan(request: str, history: list[str] | None = None) -> Any:
    return build_plan(request, history or [])


def _calls(request: str) -> list[tuple[str, dict[str, Any]]]:
    plan = _plan(request)
    assert not plan.is_text, plan.text
    return [(step.tool, step.args) for step in plan.steps]


def _question(request: str) -> str:
    plan = _plan(request)
    assert plan.text_kind == "clarify", [(s.tool, s.args) for s in plan.steps] or plan.text
    assert plan.text is not None and "?" in plan.text
    return plan.text


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        (
            "train segresnet lr=0.0005 epochs=8 batch size 4",
            [("train_model", {"model": "segresnet", "lr": 0.0005, "epochs": 8, "batch_size": 4})],
        ),
        ("generate 6 synthetic volumes of size 96 96 24", [("synthesize_data", {"n": 6, "shape": [96, 96, 24]})]),
        ("what's our top swinunetr by val dice", [("get_run", {"run_id": "best:swinunetr:val_dice"})]),
        (
            "make 4be1c07d9a2f4e5b8c3d6a7f1e2b9c05 the production model",
            [("promote_model", {"run_id": "4be1c07d9a2f4e5b8c3d6a7f1e2b9c05", "alias": "champion"})],
        ),
        ("deploy the best swinunetr to prod", [("promote_model", {"run_id": "best:swinunetr", "alias": "champion"})]),
        (
            "diff the params of runs 4be1c07d9a2f4e5b8c3d6a7f1e2b9c05 and a7c93e1f02d84b6e9f5a3c1d7e8b2f40",
            [("compare_runs", {"run_ids": ["4be1c07d9a2f4e5b8c3d6a7f1e2b9c05", "a7c93e1f02d84b6e9f5a3c1d7e8b2f40"]})],
        ),
        (
            "contrast the best segresnet with the best dynunet",
            [("compare_runs", {"run_ids": ["best:segresnet", "best:dynunet"]})],
        ),
        ("what does the runs database look like", [("describe_warehouse", {})]),
        ("which tables are there?", [("describe_warehouse", {})]),
        (
            "run inference on data/raw/f.nii.gz using the champion model",
            [("predict_volume", {"run_id": "champion", "input_path": "data/raw/f.nii.gz"})],
        ),
        ("how many volumes do we have and what's their spacing", [("dataset_info", {})]),
        ("train dynunet for 2 hours", [("train_model", {"model": "dynunet", "max_minutes": 120.0})]),
        ("show me the 3 best runs", [("leaderboard", {"metric": "val_dice", "by_family": False, "limit": 3})]),
        ("leaderboard metric=val_nsd limit=20", [("leaderboard", {"metric": "val_nsd", "limit": 20})]),
        ("synthesize n=30 preset=small name=tiny", [("synthesize_data", {"preset": "small", "name": "tiny", "n": 30})]),
        (
            "predict run_id=best input_path=data/v.nii.gz output_path=out/v.nii.gz",
            [("predict_volume", {"run_id": "best", "input_path": "data/v.nii.gz", "output_path": "out/v.nii.gz"})],
        ),
        ("diff the champion and the challenger", [("compare_runs", {"run_ids": ["champion", "challenger"]})]),
        (
            "how does the production model score on the test split?",
            [("evaluate_run", {"run_id": "champion", "split": "test"})],
        ),
        (
            "evaluate the last run on train, val and test",
            [("evaluate_run", {"run_id": "last", "split": split}) for split in ("train", "val", "test")],
        ),
        (
            "segment data/m1.nii.gz and data/m2.nii.gz with the champion",
            [("predict_volume", {"run_id": "champion", "input_path": f"data/m{i}.nii.gz"}) for i in (1, 2)],
        ),
        (
            "train dynunet for 10 epochs with seed 1 and again with seed 2",
            [("train_model", {"model": "dynunet", "epochs": 10, "seed": seed}) for seed in (1, 2)],
        ),
        ("evalute the last run on val", [("evaluate_run", {"run_id": "last", "split": "val"})]),
        (
            "check data/lab_2p, then train dynunet on it for 12 epochs",
            [
                ("dataset_info", {"path": "data/lab_2p"}),
                ("train_model", {"model": "dynunet", "epochs": 12, "dataset": "data/lab_2p"}),
            ],
        ),
    ],
)
def test_requests_the_first_batch_got_wrong(request_text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert _calls(request_text) == expected


@pytest.mark.parametrize(
    ("request_text", "named"),
    [
        ("train a segresnet with learning rate -1", ["learning rate", "between 0 and 1", "-1"]),
        ("train dynunet for 10^8 epochs", ["epochs", "between 1 and 1000", "10^8"]),
        ("train segresnet with batch size 0", ["batch size", "between 1 and 64"]),
        ("generate -4 synthetic volumes", ["volumes", "between 1 and 500", "-4"]),
        ("train swinunetr with a budget of -30 minutes", ["time budget", "-30"]),
        ("top 250 runs by dice", ["rows", "between 1 and 100", "250"]),
        ("train dynunet with patch size 64 x 64 x 16 x 2", ["'64 x 64 x 16 x 2'"]),
        ("train segresnet with patch size 96x96", ["'96x96'"]),
        ("train dynunet for zero epochs", ["epochs", "between 1 and 1000"]),
        ("train segresnet 7", ["'7'"]),
        ("train segresnet with momentum=0.9", ["'0.9'"]),
        ("train segresnet with optimizer=lion", ["optimizer=lion"]),
        ("train segresnet with focal loss", ["focal", "dice_ce"]),
        ("train unetr++ for 5 epochs", ["unetr++", "segresnet"]),
        ("evaluate the last run on the calibration split", ["calibration", "train, val and test"]),
        ("promote the best segresnet to staging", ["staging", "champion"]),
        ("synthesize 10 volumes with the foggy preset", ["foggy", "shifted"]),
        ("rank runs by specificity", ["specificity", "cldice"]),
    ],
)
def test_unusable_values_are_asked_about_by_name(request_text: str, named: list[str]) -> None:
    question = _question(request_text)
    for words in named:
        assert words in question


def _conversation(*turns: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [SYSTEM]
    for text in turns:
        messages.append(user(text))
        reply = plan_reply(messages, ALL_TOOLS)
        if reply.content and text != turns[-1]:
            messages.append(assistant_text(reply.content))
    return messages


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (("train dynunet for 10^8 epochs", "100"), {"model": "dynunet", "epochs": 100}),
        (("train a segresnet with learning rate -1", "use 5e-4 please"), {"model": "segresnet", "lr": 0.0005}),
        (("train segresnet 7 epochs=3", "drop it"), {"model": "segresnet", "epochs": 3}),
        (("train segresnet with focal loss", "dice_ce_cldice"), {"model": "segresnet", "loss": "dice_ce_cldice"}),
    ],
)
def test_the_answer_replaces_the_value_asked_about(turns: tuple[str, ...], expected: dict[str, Any]) -> None:
    plan = current_plan(_conversation(*turns))
    assert [(s.tool, s.args) for s in plan.steps] == [("train_model", expected)]


@settings(max_examples=150, deadline=None)
@given(
    epochs=st.integers(min_value=-5, max_value=3000),
    lr=st.sampled_from([-1.0, 0.0, 1e-4, 5e-4, 0.002, 0.5, 1.0, 3.0]),
    batch=st.integers(min_value=-2, max_value=100),
)
def test_every_number_is_used_exactly_or_asked_about(epochs: int, lr: float, batch: int) -> None:
    plan = _plan(f"train segresnet for {epochs} epochs with lr {lr:g} and batch size {batch}")
    valid = BOUNDS["epochs"].allows(epochs) and BOUNDS["lr"].allows(lr) and BOUNDS["batch_size"].allows(batch)
    if valid:
        assert [(s.tool, s.args) for s in plan.steps] == [
            ("train_model", {"model": "segresnet", "epochs": epochs, "lr": lr, "batch_size": batch})
        ]
    else:
        assert plan.text_kind == "clarify" and not plan.steps


def _schema_bounds(tool: str, arg: str) -> tuple[float | None, float | None, bool, bool]:
    schema = REGISTRY.get(tool).schema()["function"]["parameters"]["properties"][arg]
    variant = next((o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"), schema)
    low, high = variant.get("minimum"), variant.get("maximum")
    low_open, high_open = variant.get("exclusiveMinimum"), variant.get("exclusiveMaximum")
    return (low if low is not None else low_open, high if high is not None else high_open, low_open is not None,
            high_open is not None)  # fmt: skip


@pytest.mark.parametrize("key", sorted(BOUNDS))
def test_the_planners_bounds_are_the_tool_schemas_bounds(key: str) -> None:
    bound = BOUNDS[key]
    assert _schema_bounds(bound.tool, bound.arg) == (bound.low, bound.high, bound.low_open, bound.high_open)


def test_a_value_the_offered_schema_refuses_is_asked_about_and_relayed() -> None:
    narrow = REGISTRY.get("train_model").schema()
    narrow["function"]["parameters"]["properties"]["epochs"] = {"type": "integer", "minimum": 1, "maximum": 5}
    messages = [SYSTEM, user("train segresnet for 8 epochs")]
    worker = plan_reply(messages, [narrow])
    assert not worker.tool_calls and worker.content is not None
    assert "epochs 8 must be at most 5" in worker.content and "?" in worker.content
    transfer = plan_reply([SYSTEM, user("train segresnet for 8 epochs")], SUPERVISOR_TOOLS).tool_calls[0]
    relayed = [
        SYSTEM,
        user("train segresnet for 8 epochs"),
        {"role": "assistant", "content": None, "tool_calls": [_openai(transfer)]},
        {"role": "tool", "tool_call_id": transfer.id, "name": transfer.name, "content": "transferred"},
        assistant_text(worker.content),
    ]
    final = plan_reply(relayed, SUPERVISOR_TOOLS)
    assert not final.tool_calls and final.content is not None and "must be at most 5" in final.content


def _openai(call: Any) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def test_train_it_again_repeats_the_last_training_with_the_changes() -> None:
    messages = [SYSTEM, *train_history(), user("same thing but with lr 5e-4")]
    reply = plan_reply(messages, ALL_TOOLS)
    args = json.loads(reply.tool_calls[0].arguments)
    assert args["model"] == "segresnet" and args["lr"] == 0.0005


def test_a_verbless_follow_up_continues_the_last_tool() -> None:
    history = [
        user("evaluate run 4be1c07d9a2f4e5b8c3d6a7f1e2b9c05 on test"),
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "evaluate_run", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "evaluate_run",
         "content": json.dumps({"run_id": "4be1c07d9a2f4e5b8c3d6a7f1e2b9c05", "split": "test", "summary": {}})},
        assistant_text("Evaluated."),
    ]  # fmt: skip
    reply = plan_reply([SYSTEM, *history, user("now on the training split")], ALL_TOOLS)
    assert json.loads(reply.tool_calls[0].arguments) == {"run_id": "4be1c07d9a2f4e5b8c3d6a7f1e2b9c05", "split": "train"}


def test_the_previous_run_is_the_one_before_it() -> None:
    from minivess.agents.planner.models import History

    older, newer = "a" * 32, "b" * 32
    plan = build_plan("compare it with the previous run", History([older, newer]))
    assert [(s.tool, s.args) for s in plan.steps] == [("compare_runs", {"run_ids": [newer, older]})]
    alone = build_plan("evaluate the previous run", History([newer]))  # nothing before it: ask, never guess
    assert alone.text_kind == "clarify"


@pytest.mark.parametrize(
    ("request_text", "named"),
    [
        ("train segresnet with a learning rate of zero", "learning rate"),  # a number word: read, then bounded
        ("train dynunet with batch size zero", "batch size"),
        ("run this with at most 5000 rows: SELECT run_id, status FROM runs", "row cap"),  # above the tool's cap
    ],
)
def test_number_words_and_row_caps_outside_their_range_are_asked_about(request_text: str, named: str) -> None:
    assert named in _question(request_text).lower()


def test_a_number_word_after_its_keyword_is_used() -> None:
    assert _calls("train dynunet with seed forty two for twenty epochs") == [
        ("train_model", {"model": "dynunet", "epochs": 20, "seed": 42})
    ]


def test_an_output_path_alone_is_no_input_volume() -> None:
    """ "save it to out/mask.nii.gz" names where the mask goes: the volume to segment is asked for."""
    assert "which volume" in _question("predict with the champion and save it to out/mask.nii.gz").lower()
    assert _calls("segment a.nii.gz with the champion and save it to out/mask.nii.gz") == [
        ("predict_volume", {"run_id": "champion", "input_path": "a.nii.gz", "output_path": "out/mask.nii.gz"})
    ]


@pytest.mark.parametrize(
    ("request_text", "sql", "max_rows"),
    [
        ('query_runs max_rows=20 sql="SELECT run_name FROM runs ORDER BY duration_s DESC"',
         "SELECT run_name FROM runs ORDER BY duration_s DESC", 20),
        ("can you run SELECT loss, count(*) FROM runs GROUP BY loss against the warehouse for me",
         "SELECT loss, count(*) FROM runs GROUP BY loss", None),
        ("WITH t AS (SELECT run_id FROM runs) SELECT * FROM t",
         "WITH t AS (SELECT run_id FROM runs) SELECT * FROM t", None),
    ],
)  # fmt: skip
def test_typed_sql_is_cut_at_its_quotes_and_words_to_the_assistant(
    request_text: str, sql: str, max_rows: int | None
) -> None:
    expected = {"sql": sql, **({"max_rows": max_rows} if max_rows else {})}
    assert _calls(request_text) == [("query_runs", expected)]


def test_the_answer_replaces_a_typed_querys_row_cap() -> None:
    messages = _conversation("run this with at most 5000 rows: SELECT run_id, status FROM runs", "500")
    plan = current_plan(messages)
    assert [(s.tool, s.args) for s in plan.steps] == [
        ("query_runs", {"sql": "SELECT run_id, status FROM runs", "max_rows": 500})
    ]


def test_a_folder_given_to_segment_is_named_and_the_answer_is_used() -> None:
    """A folder cannot be segmented: the question names it; the file answered is segmented with the model asked."""
    request = "run inference on data/minivess/raw using the champion model"
    question = build_plan(request, [])
    assert question.text_kind == "clarify" and "'data/minivess/raw'" in question.text
    plan = current_plan(_conversation(request, "data/minivess/raw/v1.nii.gz"))
    assert [(s.tool, s.args) for s in plan.steps] == [
        ("predict_volume", {"input_path": "data/minivess/raw/v1.nii.gz", "run_id": "champion"})
    ]


@pytest.mark.parametrize(
    "request_text",
    ["predict with the champion and save it to out/", "segment it with the best segresnet/swinunetr"],
)
def test_an_output_folder_or_a_family_pair_is_not_named_as_the_volume(request_text: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.text_kind == "clarify" and plan.text.startswith("Which volume should I segment?")


def test_a_quoted_dataset_name_is_taken_whole_and_a_name_the_schema_refuses_is_asked_about() -> None:
    assert _calls("synthesize 5 volumes called 'pilot-2'") == [("synthesize_data", {"n": 5, "name": "pilot-2"})]
    messages = [SYSTEM, user("synthesize 10 volumes named 'my data/v1'")]
    worker = plan_reply(messages, [REGISTRY.get("synthesize_data").schema()])
    assert not worker.tool_calls and worker.content is not None
    assert "'my data/v1' may only hold letters, digits, '_', '.' and '-'" in worker.content
    assert "?" in worker.content


def test_curves_with_no_run_in_sight_are_asked_about_and_the_answer_is_used() -> None:
    assert "Which run should I plot?" in _question("can I see the training curves?")
    plan = current_plan(_conversation("can I see the training curves?", "the best dynunet"))
    assert [(s.tool, s.args) for s in plan.steps] == [("learning_curves", {"run_ids": ["best:dynunet"]})]
    assert _calls("plot the learning curves of the last run") == [("learning_curves", {"run_ids": ["last"]})]


def test_a_folder_is_no_batch_size_and_an_option_clause_sets_the_training_before_it() -> None:
    assert _calls("train dynunet on ~/datasets/batch3 for 2 epochs") == [
        ("train_model", {"model": "dynunet", "epochs": 2, "dataset": "~/datasets/batch3"})
    ]
    assert _calls("Train a DynUNet on ~/datasets/2p_batch3, give it 1.5h at most") == [
        ("train_model", {"model": "dynunet", "dataset": "~/datasets/2p_batch3", "max_minutes": 90.0})
    ]
    assert _calls("train segresnet with batch size 4.") == [("train_model", {"model": "segresnet", "batch_size": 4})]


def test_a_word_where_the_schema_wants_a_number_is_asked_about() -> None:
    messages = [SYSTEM, user("minivess train --set model.name=dynunet --set optim.lr=fast")]
    worker = plan_reply(messages, [REGISTRY.get("train_model").schema()])
    assert not worker.tool_calls and worker.content is not None
    assert "lr 'fast' must be a number" in worker.content and "?" in worker.content
