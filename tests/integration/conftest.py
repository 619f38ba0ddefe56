"""Use cases over the real SQL adapters, on PostgreSQL (as the app role) and on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.shared.clock import SystemClock
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher
from clinic_infra.db.engine import create_engine
from clinic_infra.db.migrate import upgrade
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
async def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "clinic.sqlite3"
    upgrade(f"sqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    yield engine
    await engine.dispose()


@pytest.fixture(params=["postgres", "sqlite"])
def sql_uow(request: pytest.FixtureRequest) -> SqlUnitOfWorkFactory:
    engine: AsyncEngine = request.getfixturevalue(
        "pg_app_engine" if request.param == "postgres" else "sqlite_engine"
    )
    return SqlUnitOfWorkFactory(engine)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def sign_up(
    uow: SqlUnitOfWorkFactory, tenant_name: str = "Clínica Teste", email: str | None = None
) -> SignedUp:
    command = SignUpCommand(
        tenant_name=tenant_name,
        unit_name="Centro",
        timezone="America/Sao_Paulo",
        owner_name="Ana Souza",
        email=email or unique_email("owner"),
        password=PASSWORD,
    )
    return (await SignUp(uow, FakePasswordHasher(), SystemClock())(command)).unwrap()


@pytest.fixture
def issuer() -> FakeAccessTokenIssuer:
    return FakeAccessTokenIssuer()
