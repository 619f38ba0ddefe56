"""The catalog use cases the HTTP host serves, built on the same ports as the rest of ``AppServices``."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.catalog.public import GetPublicCatalog
from clinic_core.catalog.use_cases import (
    AssignProcedures,
    CreateCategory,
    CreateEquipment,
    CreateProcedure,
    CreateProfessional,
    CreateRoom,
    GetCategory,
    GetEquipment,
    GetProcedure,
    GetProfessional,
    GetRoom,
    ListCategories,
    ListEquipment,
    ListProcedures,
    ListProfessionals,
    ListRooms,
    ReorderProcedures,
    UpdateCategory,
    UpdateEquipment,
    UpdateProcedure,
    UpdateProfessional,
    UpdateRoom,
)
from clinic_core.scheduling.public_availability import GetPublicAvailability
from clinic_core.shared.clock import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogServices:
    create_category: CreateCategory
    update_category: UpdateCategory
    get_category: GetCategory
    list_categories: ListCategories
    create_procedure: CreateProcedure
    update_procedure: UpdateProcedure
    get_procedure: GetProcedure
    list_procedures: ListProcedures
    reorder_procedures: ReorderProcedures
    create_professional: CreateProfessional
    update_professional: UpdateProfessional
    assign_procedures: AssignProcedures
    get_professional: GetProfessional
    list_professionals: ListProfessionals
    create_room: CreateRoom
    update_room: UpdateRoom
    get_room: GetRoom
    list_rooms: ListRooms
    create_equipment: CreateEquipment
    update_equipment: UpdateEquipment
    get_equipment: GetEquipment
    list_equipment: ListEquipment
    public_catalog: GetPublicCatalog
    public_availability: GetPublicAvailability

    @classmethod
    def from_ports(cls, uow: UnitOfWorkFactory, clock: Clock) -> CatalogServices:
        return cls(
            create_category=CreateCategory(uow, clock),
            update_category=UpdateCategory(uow, clock),
            get_category=GetCategory(uow),
            list_categories=ListCategories(uow),
            create_procedure=CreateProcedure(uow, clock),
            update_procedure=UpdateProcedure(uow, clock),
            get_procedure=GetProcedure(uow),
            list_procedures=ListProcedures(uow),
            reorder_procedures=ReorderProcedures(uow, clock),
            create_professional=CreateProfessional(uow, clock),
            update_professional=UpdateProfessional(uow, clock),
            assign_procedures=AssignProcedures(uow, clock),
            get_professional=GetProfessional(uow),
            list_professionals=ListProfessionals(uow),
            create_room=CreateRoom(uow, clock),
            update_room=UpdateRoom(uow, clock),
            get_room=GetRoom(uow),
            list_rooms=ListRooms(uow),
            create_equipment=CreateEquipment(uow, clock),
            update_equipment=UpdateEquipment(uow, clock),
            get_equipment=GetEquipment(uow),
            list_equipment=ListEquipment(uow),
            public_catalog=GetPublicCatalog(uow),
            public_availability=GetPublicAvailability(uow, clock),
        )
