"""Program blocks: validation of unlock rules and questions, and reading a program flat."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from wagtail.blocks.struct_block import StructBlockValidationError

from wagtail_coaching.blocks import (
    ACTIVITY_BLOCKS,
    FormBlock,
    ProgramBlock,
    QuestionBlock,
    StageBlock,
    UnlockRule,
    UnlockRuleBlock,
)
from wagtail_coaching.journeys.program import (
    ActivitySpec,
    flatten_program,
    live_engagement,
    program_stages,
)
from wagtail_coaching.models import EngagementPage
from wagtail_coaching.testing import programs
from wagtail_coaching.testing.factories import make_engagement

# UnlockRuleBlock ----------------------------------------------------------------------------


def clean_rule(**raw):
    block = UnlockRuleBlock()
    return block.clean(block.to_python({"rule": "immediately", "days": None, "date": None,
                                        **raw}))


@pytest.mark.parametrize(
    "raw",
    [
        {"rule": "immediately"},
        {"rule": "after_previous"},
        {"rule": "manual"},
        {"rule": "days_after_enrollment", "days": 0},
        {"rule": "days_after_enrollment", "days": 14},
        {"rule": "days_after_cohort_start", "days": 3650},
        {"rule": "on_date", "date": "2025-07-01"},
        # a leftover number or date on another rule is harmless
        {"rule": "manual", "days": 3, "date": "2025-07-01"},
    ],
)
def test_valid_unlock_rules(raw):
    value = clean_rule(**raw)
    assert value["rule"] == raw["rule"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"rule": "days_after_enrollment"}, "days"),
        ({"rule": "days_after_cohort_start"}, "days"),
        ({"rule": "days_after_enrollment", "date": "2025-07-01"}, "days"),
        ({"rule": "on_date"}, "date"),
        ({"rule": "on_date", "days": 3}, "date"),
        ({"rule": "days_after_enrollment", "days": -1}, "days"),
        ({"rule": "days_after_enrollment", "days": 3651}, "days"),
        ({"rule": "whenever"}, "rule"),
    ],
)
def test_invalid_unlock_rules(raw, field):
    with pytest.raises(StructBlockValidationError) as info:
        clean_rule(**raw)
    assert set(info.value.block_errors) == {field}


def test_the_unlock_rule_defaults_to_after_the_previous_activity():
    assert UnlockRuleBlock().get_default()["rule"] == UnlockRule.AFTER_PREVIOUS


# QuestionBlock ------------------------------------------------------------------------------


def clean_question(kind, choices=""):
    block = QuestionBlock()
    return block.clean(block.to_python({
        "label": "Question", "kind": kind, "choices": choices, "required": True,
        "help_text": "",
    }))


@pytest.mark.parametrize("kind", ["choice", "multiple_choice"])
@pytest.mark.parametrize("choices", ["", "Only one", "Only one\n\n   \n", "  \n\n"])
def test_a_choice_question_needs_two_choices(kind, choices):
    with pytest.raises(StructBlockValidationError) as info:
        clean_question(kind, choices)
    assert set(info.value.block_errors) == {"choices"}


@pytest.mark.parametrize("kind", ["choice", "multiple_choice"])
def test_a_choice_question_with_two_choices_is_valid(kind):
    value = clean_question(kind, "Yes\n\nNo\n")
    assert [c for c in value["choices"].splitlines() if c.strip()] == ["Yes", "No"]


@pytest.mark.parametrize("kind", ["short_text", "long_text", "number", "yes_no", "date"])
def test_other_questions_need_no_choices(kind):
    assert clean_question(kind)["kind"] == kind


def test_a_form_refuses_a_bad_question_and_an_empty_list():
    block = FormBlock()
    raw = programs.activity("form", "Intake")["value"]
    block.clean(block.to_python(raw))
    bad = {**raw, "questions": [programs.question("Pick", kind="choice", choices=["a"])]}
    with pytest.raises(ValidationError):
        block.clean(block.to_python(bad))
    with pytest.raises(ValidationError):
        block.clean(block.to_python({**raw, "questions": []}))


# Activities, stages, the program ------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ACTIVITY_BLOCKS))
def test_every_activity_built_by_the_helpers_is_valid(kind):
    block = ACTIVITY_BLOCKS[kind]
    raw = programs.activity(kind, f"A {kind}", rule="days_after_enrollment", days=2)["value"]
    value = block.clean(block.to_python(raw))
    assert value["title"] == f"A {kind}"
    assert value["unlock"]["days"] == 2


def test_an_activity_refuses_a_bad_unlock_rule():
    block = ACTIVITY_BLOCKS["lesson"]
    raw = programs.activity("lesson", "Lesson", rule="on_date")["value"]
    with pytest.raises(StructBlockValidationError) as info:
        block.clean(block.to_python(raw))
    assert set(info.value.block_errors) == {"unlock"}


def test_a_stage_needs_an_activity():
    block = StageBlock()
    with pytest.raises(ValidationError):
        block.clean(block.to_python(programs.stage("Empty", [])["value"]))


@pytest.mark.django_db  # document choosers look their (absent) documents up
def test_a_whole_program_validates_down_to_the_unlock_rule():
    block = ProgramBlock()
    good = programs.sized_program(2, 3)
    block.clean(block.to_python(good))
    bad = programs.sized_program(2, 3, rule="days_after_enrollment")
    bad[1]["value"]["activities"][2]["value"]["unlock"]["days"] = None
    with pytest.raises(ValidationError):
        block.clean(block.to_python(bad))


# flatten_program --------------------------------------------------------------------------


def mixed_program():
    a = programs.activity
    return [
        programs.stage("One", [
            a("lesson", "Hello", rule="immediately", block_id="a1"),
            a("form", "Intake", rule="after_previous", block_id="a2"),
        ], block_id="s1"),
        programs.stage("Two", [
            a("check_in", "Mood", rule="days_after_enrollment", days=3, block_id="b1"),
            a("lesson", "Dated", rule="on_date", date=datetime.date(2025, 7, 1),
              block_id="b2", document=12345),
            a("one_to_one", "Call", rule="manual", block_id="b3"),
        ], block_id="s2"),
    ]


def test_flatten_program_lists_activities_in_journey_order(db):
    page = make_engagement(program=mixed_program())
    specs = flatten_program(EngagementPage.objects.get(pk=page.pk).program)
    assert [s.block_id for s in specs] == ["a1", "a2", "b1", "b2", "b3"]
    assert specs[0] == ActivitySpec(
        block_id="a1", kind="lesson", title="Hello", stage_block_id="s1", stage_title="One",
        stage_position=0, position=0, unlock_rule="immediately", unlock_days=None,
        unlock_date=None,
    )
    assert [(s.stage_position, s.position) for s in specs] == [
        (0, 0), (0, 1), (1, 0), (1, 1), (1, 2)
    ]
    assert (specs[2].kind, specs[2].unlock_rule, specs[2].unlock_days) == (
        "check_in", "days_after_enrollment", 3
    )
    assert (specs[3].unlock_rule, specs[3].unlock_date) == ("on_date", datetime.date(2025, 7, 1))
    assert (specs[4].kind, specs[4].unlock_rule, specs[4].stage_title) == (
        "one_to_one", "manual", "Two"
    )


def test_flatten_program_ids_are_stable(db):
    page = make_engagement(program=mixed_program())
    first = flatten_program(EngagementPage.objects.get(pk=page.pk).program)
    # another revision of the same content keeps the ids
    page = EngagementPage.objects.get(pk=page.pk)
    page.save_revision().publish()
    again = flatten_program(EngagementPage.objects.get(pk=page.pk).program)
    assert again == first


def test_flatten_program_does_not_query_the_database(db, django_assert_num_queries):
    page = make_engagement(program=mixed_program())
    page = EngagementPage.objects.get(pk=page.pk)
    with django_assert_num_queries(0):
        specs = flatten_program(page.program)
        stages = program_stages(page.program)
    assert len(specs) == 5
    assert list(stages) == ["s1", "s2"]
    # whereas turning the blocks into Python values looks up the lesson's document
    page = EngagementPage.objects.get(pk=page.pk)
    with django_assert_num_queries(1):
        [child.value for stage in page.program for child in stage.value["activities"]]


def test_flatten_program_is_forgiving_with_stored_data():
    lesson = programs.activity("lesson", "x" * 300, block_id="long")
    no_rule = programs.activity("lesson", "No rule", block_id="no-rule")
    no_rule["value"].pop("unlock")
    unknown = programs.activity("lesson", "Unknown", rule="someday", block_id="unknown")
    text_days = programs.activity("lesson", "Text days", rule="days_after_enrollment",
                                  block_id="text-days")
    text_days["value"]["unlock"]["days"] = "4"
    gone = {"type": "retired_block", "id": "gone", "value": {"title": "Old"}}
    data = [
        programs.stage("S", [lesson, no_rule, gone, unknown, text_days], block_id="s"),
        {"type": "not_a_stage", "id": "n", "value": {}},
    ]
    program = ProgramBlock().to_python(data)
    specs = {s.block_id: s for s in flatten_program(program)}
    assert list(specs) == ["long", "no-rule", "unknown", "text-days"]
    assert len(specs["long"].title) == 255
    assert specs["no-rule"].unlock_rule == "immediately"
    assert specs["unknown"].unlock_rule == "manual"  # never opens by itself
    assert specs["text-days"].unlock_days == 4
    assert specs["text-days"].position == 4  # the stored position, gaps and all


def test_program_stages_by_block_id():
    program = ProgramBlock().to_python(mixed_program())
    stages = program_stages(program)
    assert {k: (v.title, v.position) for k, v in stages.items()} == {
        "s1": ("One", 0), "s2": ("Two", 1)
    }


def test_live_engagement_reads_the_published_page(db):
    page = make_engagement(program=mixed_program())
    page.program = programs.sized_program(1, 1)  # a change in hand, not published
    live = live_engagement(page)
    assert live is not page
    assert [s.block_id for s in flatten_program(live.program)][0] == "a1"
    assert live_engagement(page.pk) == live
    assert live_engagement(make_engagement(publish=False, title="Draft")) is None
