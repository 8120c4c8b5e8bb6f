"""Review submissions in the drill log (drill.datadir.drill_log_path()), with SQLAlchemy 2.

The drill log is one SQLite file shared by several features, each with its own tables: these
are `review_submissions` and `review_findings`, declared on a metadata of their own, so that
create_all() makes only them and nothing here ever touches (or drops) another feature's tables.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    Select,
    String,
    create_engine,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from drill.datadir import drill_log_path
from drill.review.scoring import Score


class ReviewBase(DeclarativeBase):
    """Declarative base of the review drill's tables (a metadata separate from other features)."""


class Submission(ReviewBase):
    """One team's review of one pull request."""

    __tablename__ = "review_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(String(100), index=True)
    pr_id: Mapped[str] = mapped_column(String(20))
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    planted: Mapped[int] = mapped_column(Integer)
    found: Mapped[int] = mapped_column(Integer)
    missed: Mapped[int] = mapped_column(Integer)
    false_alarms: Mapped[int] = mapped_column(Integer)
    findings: Mapped[list["SubmittedFinding"]] = relationship(
        back_populates="submission", cascade="all, delete-orphan"
    )


class SubmittedFinding(ReviewBase):
    """One finding of a submission, with its verdict."""

    __tablename__ = "review_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("review_submissions.id"), index=True)
    file: Mapped[str] = mapped_column(String(300))
    line: Mapped[int] = mapped_column(Integer)
    item: Mapped[str] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(String(20))
    submission: Mapped[Submission] = relationship(back_populates="findings")


class ReviewStoreError(Exception):
    """The drill log cannot be read or written; the message names the file."""


@contextmanager
def _session() -> Iterator[Session]:
    try:
        path = drill_log_path()
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 15})
    except OSError as exc:
        raise ReviewStoreError(f"cannot make the drill log's folder: {exc}") from exc
    try:
        ReviewBase.metadata.create_all(engine)  # ours only; other tables are left as they are
        with Session(engine) as session:
            yield session
    except SQLAlchemyError as exc:
        raise ReviewStoreError(f"the drill log {path} failed: {exc}") from exc
    finally:
        engine.dispose()


def _first_reviews(team: str) -> Select[tuple[int]]:
    """The ids of the team's first submission on each pull request: the one that counts (a
    second try, after the wrap-up or the key, would only inflate the rate)."""
    return select(func.min(Submission.id)).where(Submission.team == team).group_by(Submission.pr_id)


def submitted_before(team: str, pr_id: str) -> bool:
    """Whether the team has already reviewed this pull request."""
    with _session() as session:
        query = select(Submission.id).where(Submission.team == team, Submission.pr_id == pr_id)
        return session.scalars(query.limit(1)).first() is not None


def record(team: str, pr_id: str, result: Score) -> int:
    """Store a scored submission; its id."""
    with _session() as session:
        submission = Submission(
            team=team,
            pr_id=pr_id,
            submitted_at=datetime.now(UTC).replace(tzinfo=None),
            planted=result.planted,
            found=result.found,
            missed=len(result.missed),
            false_alarms=result.false_alarms,
            findings=[
                SubmittedFinding(
                    file=finding.file, line=finding.line, item=finding.item.value, verdict=verdict
                )
                for finding, verdict in result.verdicts
            ],
        )
        session.add(submission)
        session.commit()
        return submission.id


@dataclass(frozen=True)
class TeamScore:
    """A team's review drills so far."""

    team: str
    submissions: int
    planted: int
    found: int
    false_alarms: int

    @property
    def detection_rate(self) -> float | None:
        """found / planted, None before the first submission."""
        return self.found / self.planted if self.planted else None


def team_score(team: str) -> TeamScore:
    """The totals of the team's first review of each pull request."""
    with _session() as session:
        row = session.execute(
            select(
                func.count(Submission.id),
                func.coalesce(func.sum(Submission.planted), 0),
                func.coalesce(func.sum(Submission.found), 0),
                func.coalesce(func.sum(Submission.false_alarms), 0),
            ).where(Submission.id.in_(_first_reviews(team)))
        ).one()
    return TeamScore(team, int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def teams() -> list[str]:
    """Every team that has submitted a review, by name."""
    with _session() as session:
        return list(session.scalars(select(Submission.team).distinct().order_by(Submission.team)))


def reviewed(team: str) -> dict[str, tuple[int, int]]:
    """Per pull request, (found, planted) of the team's first review: the one that counts."""
    with _session() as session:
        rows = session.execute(
            select(Submission.pr_id, Submission.found, Submission.planted).where(
                Submission.id.in_(_first_reviews(team))
            )
        ).all()
    return {pr_id: (int(found), int(planted)) for pr_id, found, planted in rows}


def detection_rate(team: str) -> float | None:
    """Share of planted faults the team found, over its first review of each pull request
    (None: none yet)."""
    return team_score(team).detection_rate
