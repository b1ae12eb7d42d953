"""Shared helpers of the household survey's tests: documents and calls."""

from __future__ import annotations

import base64

from registry_support import GRID

COMMUNITY = GRID[:12]
ERRORS = "errors { field message code }"
FIGURES = "householdsSurveyed visits peopleSurveyed fromKeyArea withFever underObservation"
CAMPAIGN = "id version areaCode name startsOn endsOn status keyAreas"
PERSON = ("id version areaCode on cameFrom fromKeyArea departedOn arrivedOn transport transportNumber fever "
          "temperature cough closeContact underObservation resident { id name }")
VISIT = f"id areaCode visitedAt on method outcome firstReach people {{ {PERSON} }}"
RESULTS = {"openSurveyCampaign": f"campaign {{ {CAMPAIGN} }}", "updateSurveyCampaign": f"campaign {{ {CAMPAIGN} }}",
           "closeSurveyCampaign": f"campaign {{ {CAMPAIGN} }}", "recordHouseholdVisit": f"visit {{ {VISIT} }}",
           "updateSurveyPerson": f"person {{ {PERSON} }}",
           "openReturneeFromSurvey": "returnee { id origin fromKeyArea transport arrivedOn status }"}


def mutate(api, name: str, input: dict, user: str) -> dict:
    type_name = name[0].upper() + name[1:] + "Input"
    body = api.query(f"mutation($i: {type_name}!) {{ {name}(input: $i) {{ {RESULTS[name]} {ERRORS} }} }}",
                     {"i": input}, user=user)
    assert not body.get("errors"), body["errors"]
    return body["data"][name]


def open_campaign(api, user: str, area_code: str, **extra) -> dict:
    done = mutate(api, "openSurveyCampaign", {"areaCode": area_code, "name": "入户排查", "keyAreas": ["湖北省", "武汉市"],
                                              **extra}, user)
    assert done["errors"] == [], done["errors"]
    return done["campaign"]


def campaign_key(campaign: dict) -> str:
    return base64.b64decode(campaign["id"]).decode().split(":")[1]


def visit_input(campaign_id: str, household_id: str, *, method: str = "DOOR", outcome: str = "REACHED",
                people: list | None = None) -> dict:
    return {"campaignId": campaign_id, "householdId": household_id, "method": method, "outcome": outcome,
            "people": people or []}


def progress(api, campaign_id: str, area_code: str, user: str) -> dict:
    data = api.data("query($id: ID!, $c: String) { node(id: $id) { ... on SurveyCampaign { progress(areaCode: $c) "
                    "{ areaCode householdsKnown figures { %s } } } } }" % FIGURES,
                    {"id": campaign_id, "c": area_code}, user=user)
    assert data["node"] is not None, user
    return data["node"]["progress"]


def not_reached(api, campaign_id: str, area_code: str, user: str) -> list[str]:
    data = api.data("query($id: ID!, $c: String) { node(id: $id) { ... on SurveyCampaign { progress(areaCode: $c) "
                    "{ householdsNotReached(first: 100) { edges { node { id } } } } } } }",
                    {"id": campaign_id, "c": area_code}, user=user)
    if data["node"] is None:
        return []
    return [e["node"]["id"] for e in data["node"]["progress"]["householdsNotReached"]["edges"]]


def campaign_of(api, campaign_id: str, user: str) -> dict | None:
    return api.data("query($id: ID!) { node(id: $id) { ... on SurveyCampaign { %s } } }" % CAMPAIGN,
                    {"id": campaign_id}, user=user)["node"]
