"""The forms a client fills in to complete a step."""

import pytest

from wagtail_coaching.blocks import ACTIVITY_BLOCKS
from wagtail_coaching.forms import (
    CheckInForm,
    CompleteForm,
    FeedbackForm,
    QuestionnaireForm,
    form_for,
)
from wagtail_coaching.testing.programs import activity, question


def block_value(kind, **value):
    """The block's Python value, as the view gets it from the page."""
    return ACTIVITY_BLOCKS[kind].to_python(activity(kind, "A step", **value)["value"])


def questionnaire(questions, consent_text="", data=None):
    value = block_value("form", questions=questions, consent_text=consent_text)
    return QuestionnaireForm(data=data, block_value=value)


# -- form_for --------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "form_class"), [
    ("lesson", CompleteForm),
    ("practice", CompleteForm),
    ("check_in", CheckInForm),
    ("feedback", FeedbackForm),
    ("form", QuestionnaireForm),
])
def test_form_for_picks_the_form_of_each_kind(kind, form_class):
    assert type(form_for(kind, block_value(kind))) is form_class


@pytest.mark.parametrize("kind", ["one_to_one", "group_session", "unknown"])
def test_coach_completed_kinds_have_no_form(kind):
    assert form_for(kind, None) is None


def test_complete_form_stores_nothing():
    form = CompleteForm(data={})
    assert form.is_valid()
    assert (form.response(), form.score()) == (None, None)


# -- Check-in: 0 to 10 -----------------------------------------------------------------

@pytest.mark.parametrize("bad", ["-1", "11", "", "ten", "5.5"])
def test_check_in_rejects_out_of_range_or_missing_scores(bad):
    form = CheckInForm(data={"score_value": bad}, block_value=block_value("check_in"))
    assert not form.is_valid()
    assert form.errors["score_value"] == ["Choose a score from 0 to 10."]


@pytest.mark.parametrize("good", [0, 5, 10])
def test_check_in_accepts_the_scale(good):
    form = CheckInForm(data={"score_value": str(good)}, block_value=block_value("check_in"))
    assert form.is_valid(), form.errors
    assert form.score() == good
    assert form.response() is None


def test_check_in_keeps_the_note_and_labels_the_scale():
    value = block_value("check_in", metric="Energy", low_label="Drained", high_label="Buzzing")
    form = CheckInForm(data={"score_value": "3", "note": "Long week"}, block_value=value)
    assert form.is_valid()
    assert form.response() == {"note": "Long week"}
    field = form.fields["score_value"]
    assert field.label == "Energy"
    assert "Drained" in str(field.help_text) and "Buzzing" in str(field.help_text)
    html = str(form["score_value"])
    assert html.count('type="radio"') == 11


def test_check_in_note_has_a_limit():
    form = CheckInForm(data={"score_value": "3", "note": "x" * 2001},
                       block_value=block_value("check_in"))
    assert not form.is_valid()
    assert "note" in form.errors


# -- Feedback: 1 to 5 ------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["0", "6", "", "-1", "great"])
def test_feedback_rejects_out_of_range_scores(bad):
    form = FeedbackForm(data={"score_value": bad}, block_value=block_value("feedback"))
    assert not form.is_valid()
    assert form.errors["score_value"] == ["Choose a score from 1 to 5."]


@pytest.mark.parametrize("good", [1, 3, 5])
def test_feedback_accepts_one_to_five(good):
    form = FeedbackForm(data={"score_value": str(good), "comment": "Thanks"},
                        block_value=block_value("feedback", question="How useful?"))
    assert form.is_valid(), form.errors
    assert form.score() == good
    assert form.response() == {"comment": "Thanks"}
    assert form.fields["score_value"].label == "How useful?"


# -- Questionnaire: every question kind -------------------------------------------------

def test_required_question_must_be_answered():
    form = questionnaire([question("Name", "short_text")], data={"q0": ""})
    assert not form.is_valid()
    assert form.errors["q0"] == ["Please answer this question."]


def test_optional_question_may_be_left_blank():
    form = questionnaire([question("Nickname", "short_text", required=False)], data={})
    assert form.is_valid(), form.errors
    assert form.response() == {
        "answers": [{"question": "Nickname", "kind": "short_text", "answer": ""}]
    }


def test_short_and_long_text_have_limits():
    form = questionnaire(
        [question("Short", "short_text"), question("Long", "long_text")],
        data={"q0": "x" * 501, "q1": "y" * 5001},
    )
    assert not form.is_valid()
    assert set(form.errors) == {"q0", "q1"}
    form = questionnaire(
        [question("Short", "short_text"), question("Long", "long_text")],
        data={"q0": "Hi", "q1": "Several\nlines"},
    )
    assert form.is_valid()
    assert [a["answer"] for a in form.response()["answers"]] == ["Hi", "Several\nlines"]


def test_number_question():
    questions = [question("People in your team", "number")]
    assert not questionnaire(questions, data={"q0": "a dozen"}).is_valid()
    form = questionnaire(questions, data={"q0": "12.5"})
    assert form.is_valid()
    assert form.response()["answers"][0]["answer"] == "12.5"


def test_choice_question():
    questions = [question("When?", "choice", choices=["Morning", "Evening"])]
    form = questionnaire(questions, data={"q0": "Night"})
    assert not form.is_valid()
    assert "Select a valid choice" in form.errors["q0"][0]
    form = questionnaire(questions, data={"q0": "Evening"})
    assert form.is_valid()
    assert form.response()["answers"][0]["answer"] == "Evening"


def test_multiple_choice_question():
    questions = [question("Topics", "multiple_choice", choices=["Focus", "Sleep", "Teams"])]
    assert not questionnaire(questions, data={"q0": ["Focus", "Cooking"]}).is_valid()
    assert not questionnaire(questions, data={}).is_valid()
    form = questionnaire(questions, data={"q0": ["Focus", "Teams"]})
    assert form.is_valid()
    assert form.response()["answers"][0]["answer"] == ["Focus", "Teams"]


def test_yes_no_question():
    questions = [question("Coached before?", "yes_no")]
    assert not questionnaire(questions, data={"q0": "maybe"}).is_valid()
    form = questionnaire(questions, data={"q0": "no"})
    assert form.is_valid()
    assert form.response()["answers"][0]["answer"] == "no"


def test_date_question():
    questions = [question("Start date", "date")]
    assert not questionnaire(questions, data={"q0": "2024-13-01"}).is_valid()
    assert not questionnaire(questions, data={"q0": "soon"}).is_valid()
    form = questionnaire(questions, data={"q0": "2024-02-29"})
    assert form.is_valid()
    assert form.response()["answers"][0]["answer"] == "2024-02-29"


def test_consent_is_required_when_asked():
    questions = [question("Goal", "short_text")]
    form = questionnaire(questions, consent_text="I agree", data={"q0": "Grow"})
    assert not form.is_valid()
    assert form.errors["consent"] == ["Tick the box to give your consent."]
    form = questionnaire(questions, consent_text="I agree", data={"q0": "Grow", "consent": "on"})
    assert form.is_valid()
    assert form.response()["consent"] is True
    assert form.fields["consent"].label == "I agree"


def test_no_consent_field_without_consent_text():
    form = questionnaire([question("Goal", "short_text")], data={"q0": "Grow"})
    assert "consent" not in form.fields
    assert form.is_valid()
    assert "consent" not in form.response()


def test_questions_keep_their_order_labels_and_help():
    form = questionnaire([
        question("First", "short_text", help_text="Be brief"),
        question("Second", "yes_no"),
    ])
    assert list(form.fields) == ["q0", "q1"]
    assert form.fields["q0"].label == "First"
    assert form.fields["q0"].help_text == "Be brief"
    assert form.fields["q1"].label == "Second"
