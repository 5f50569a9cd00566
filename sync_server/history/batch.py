"""One transaction around many service calls: the services commit after each edit; a batch flushes instead
and commits once at the end, so an import apply or an undo is all or nothing."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import UnitOfWork


@dataclass
class BatchUnitOfWork(UnitOfWork):
    @classmethod
    def around(cls, uow: UnitOfWork) -> BatchUnitOfWork:
        """A batch on the same session, actor and request as `uow`."""
        return cls(
            session=uow.session,
            hub=uow.hub,
            actor=uow.actor,
            request_id=uow.request_id,
            remote_addr=uow.remote_addr,
            history=uow.history,
        )

    def commit(self) -> None:
        self.session.flush()

    def finish(self) -> None:
        """Commit everything and announce the live events."""
        UnitOfWork.commit(self)
