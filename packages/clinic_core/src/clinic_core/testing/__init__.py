"""In-memory implementations of every port, for unit tests (Clinic's own and its library users').

They keep the contracts of the real adapters: tenant repositories see one tenant only, nothing is visible
to others before ``commit``, unique constraints raise ``UniqueViolation``, and committed events land in
``InMemoryStore.outbox``.
"""

from clinic_core.shared.clock import FixedClock
from clinic_core.testing.catalog import a_category, a_procedure, a_professional, a_room
from clinic_core.testing.fakes import FakeAccessTokenIssuer, FakePasswordHasher, FakeSecretBox
from clinic_core.testing.memory import InMemoryStore, InMemoryUnitOfWork, InMemoryUnitOfWorkFactory
from clinic_core.testing.patients import a_person, an_animal
from clinic_core.testing.sign_in import tokens_only

__all__ = [
    "FakeAccessTokenIssuer",
    "FakePasswordHasher",
    "FakeSecretBox",
    "FixedClock",
    "InMemoryStore",
    "InMemoryUnitOfWork",
    "InMemoryUnitOfWorkFactory",
    "a_category",
    "a_person",
    "a_procedure",
    "a_professional",
    "a_room",
    "an_animal",
    "tokens_only",
]
