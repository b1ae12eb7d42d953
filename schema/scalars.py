"""Enums shared by the API, with the Chinese terms the users know them by."""

from __future__ import annotations

import strawberry

from db.codes import Level
from db.registry import Gender, HouseholdKind, PopulationKind, ResidentStatus

AreaLevel = strawberry.enum(Level, name="AreaLevel", description="Level of the administrative tree: province (省), city (市), district/county (区/县), street/township (街道/乡镇), community/village (社区/村), grid (网格).")
HouseholdKindEnum = strawberry.enum(HouseholdKind, name="HouseholdKind", description="Owner-occupied (自住), rented (租住) or collective (集体户).")
PopulationKindEnum = strawberry.enum(PopulationKind, name="PopulationKind", description="Registered (户籍人口) or floating (流动人口) population.")
ResidentStatusEnum = strawberry.enum(ResidentStatus, name="ResidentStatus", description="Whether the person still lives here.")
GenderEnum = strawberry.enum(Gender, name="Gender", description="Gender as recorded on the ID card.")
