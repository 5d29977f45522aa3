"""Build engagement programs as StreamField data, for tests, demos and benchmarks."""

import uuid


def unlock(rule="after_previous", days=None, date=None):
    return {"rule": rule, "days": days, "date": date.isoformat() if date else None}


def activity(kind, title, rule="after_previous", days=None, date=None, block_id=None, **value):
    """Raw data of one activity block. Sensible content is filled in for each type."""
    defaults = {
        "lesson": {"body": f"<p>{title}</p>", "video": None, "document": None},
        "practice": {"instructions": f"<p>Practise: {title}</p>", "cadence": "once"},
        "check_in": {"metric": "Stress today", "low_label": "Calm", "high_label": "Very stressed"},
        "feedback": {"question": "How satisfied are you so far?"},
        "form": {
            "intro": "",
            "questions": [
                {"type": "item", "id": str(uuid.uuid4()), "value": {
                    "label": "What do you want from coaching?", "kind": "long_text",
                    "choices": "", "required": True, "help_text": "",
                }},
            ],
            "consent_text": "",
        },
        "one_to_one": {"sessions": 4, "duration_minutes": 60, "description": ""},
        "group_session": {"description": ""},
    }[kind]
    return {
        "type": kind,
        "id": block_id or str(uuid.uuid4()),
        "value": {
            "title": title,
            "unlock": unlock(rule, days, date),
            "lead_role": "",
            **defaults,
            **value,
        },
    }


def question(label, kind="short_text", required=True, choices=(), help_text=""):
    return {
        "type": "item",
        "id": str(uuid.uuid4()),
        "value": {
            "label": label, "kind": kind, "choices": "\n".join(choices),
            "required": required, "help_text": help_text,
        },
    }


def stage(title, activities, block_id=None, description="", lead_role=""):
    return {
        "type": "stage",
        "id": block_id or str(uuid.uuid4()),
        "value": {
            "title": title, "description": description, "lead_role": lead_role,
            "activities": list(activities),
        },
    }


def sized_program(stages=4, per_stage=10, first_rule="immediately", rule="after_previous"):
    """A program of ``stages`` x ``per_stage`` activities cycling through the common types."""
    kinds = ["lesson", "practice", "check_in", "lesson", "feedback"]
    data = []
    for s in range(stages):
        acts = []
        for a in range(per_stage):
            kind = kinds[(s * per_stage + a) % len(kinds)]
            r = first_rule if (s == 0 and a == 0) else rule
            days = (s * per_stage + a) if r in ("days_after_enrollment",) else None
            acts.append(activity(kind, f"Step {s + 1}.{a + 1}", rule=r, days=days))
        data.append(stage(f"Stage {s + 1}", acts))
    return data
