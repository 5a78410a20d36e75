//! Schema migrations, for PostgreSQL and SQLite alike. `cohandle migrate` runs them; they
//! are idempotent, so running them again changes nothing.

use sea_orm::{ConnectionTrait, EntityTrait, Schema};
use sea_orm_migration::prelude::*;

use crate::entities::{
    access_audit, agency, calendar_file, dead_letter, disclosure, feedback, held_event, history,
    inbox, jurisdiction, jurisdiction_agency, jurisdiction_definition, opinion, outbox, proposal,
    reply, task, timer, token, workflow_definition,
};

#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateTables),
            Box::new(CreateTokens),
            Box::new(HistoryDetail),
            Box::new(HistoryHead),
            Box::new(TimersInFiringOrder),
            Box::new(StatisticsByAgency),
            Box::new(AgencyStatistics),
            Box::new(RoomForUpdates),
            Box::new(CalendarFiles),
            Box::new(ReplyRecordedOn),
            Box::new(AccessAudit),
            Box::new(DeadLetters),
            Box::new(WorkflowDefinitions),
            Box::new(Jurisdictions),
            Box::new(TasksByAgencyAndProposal),
            Box::new(HeldEvents),
            Box::new(StatisticsByJurisdiction),
            Box::new(ProposalPeople),
            Box::new(OpenTasksByDueDate),
            Box::new(UnusedIndexes),
        ]
    }
}

/// The first schema, built from the entities. Every later migration checks the schema
/// before it alters it, so a database created at any version ends with the same tables.
struct CreateTables;

impl MigrationName for CreateTables {
    fn name(&self) -> &str {
        "m20261127_000001_create_tables"
    }
}

fn index(
    name: &str,
    table: impl IntoIden + 'static,
    columns: &[&'static str],
) -> IndexCreateStatement {
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for column in columns {
        statement.col(Alias::new(*column));
    }
    statement
}

async fn create<E: EntityTrait>(manager: &SchemaManager<'_>, entity: E) -> Result<(), DbErr> {
    let schema = Schema::new(manager.get_database_backend());
    manager
        .create_table(
            schema
                .create_table_from_entity(entity)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, agency::Entity).await?;
        create(manager, proposal::Entity).await?;
        create(manager, task::Entity).await?;
        create(manager, history::Entity).await?;
        create(manager, inbox::Entity).await?;
        create(manager, outbox::Entity).await?;
        create(manager, timer::Entity).await?;
        create(manager, reply::Entity).await?;
        create(manager, feedback::Entity).await?;
        create(manager, disclosure::Entity).await?;

        let indexes = [
            index("proposals_state", proposal::Entity, &["state"]),
            index("proposals_session", proposal::Entity, &["session"]),
            index("proposals_due_on", proposal::Entity, &["due_on"]),
            index("proposals_assigner", proposal::Entity, &["assigner"]),
            index("tasks_agency_state", task::Entity, &["agency", "state"]),
            index("tasks_due_on", task::Entity, &["due_on", "agency"]),
            index("history_event", history::Entity, &["event_id"]),
            index("inbox_proposal", inbox::Entity, &["proposal_key"]),
            index("outbox_unsent", outbox::Entity, &["sent_at", "id"]),
            index("timers_due", timer::Entity, &["state", "fire_at"]),
            index(
                "timers_task",
                timer::Entity,
                &["proposal_key", "agency", "deadline"],
            ),
        ];
        for statement in indexes {
            manager.create_index(statement).await?;
        }
        manager
            .create_index(
                index("history_chain", history::Entity, &["proposal_key", "seq"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in [
            "disclosures",
            "feedback",
            "replies",
            "timers",
            "outbox",
            "inbox",
            "history",
            "tasks",
            "proposals",
            "agencies",
        ] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

/// API tokens, hashed.
struct CreateTokens;

impl MigrationName for CreateTokens {
    fn name(&self) -> &str {
        "m20261127_000002_create_tokens"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateTokens {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, token::Entity).await?;
        manager
            .create_index(index("tokens_agency", token::Entity, &["agency"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS tokens")
            .await?;
        Ok(())
    }
}

/// Adds a column to `table`, unless it is there: a database created after the column joined
/// its entity already has it.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    let name = column.get_column_name();
    if manager.has_column(table, &name).await? {
        return Ok(());
    }
    manager
        .alter_table(
            Table::alter()
                .table(Alias::new(table))
                .add_column(column)
                .to_owned(),
        )
        .await
}

async fn drop_column(manager: &SchemaManager<'_>, table: &str, column: &str) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(Alias::new(table))
                .drop_column(Alias::new(column))
                .to_owned(),
        )
        .await
}

/// A history row can say what a change did beyond its states (a deadline moved).
struct HistoryDetail;

impl MigrationName for HistoryDetail {
    fn name(&self) -> &str {
        "m20261127_000003_history_detail"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for HistoryDetail {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "history",
            ColumnDef::new(Alias::new("detail")).text().null(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_column(manager, "history", "detail").await
    }
}

/// The head of each proposal's history chain, kept on the proposal row.
struct HistoryHead;

impl MigrationName for HistoryHead {
    fn name(&self) -> &str {
        "m20261127_000004_history_head"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for HistoryHead {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_column("proposals", "history_seq").await? {
            return Ok(());
        }
        for column in [
            ColumnDef::new(Alias::new("history_seq"))
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Alias::new("history_hash"))
                .text()
                .not_null()
                .default(crate::history::GENESIS)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("proposals"))
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE proposals SET \
                 history_seq = COALESCE((SELECT MAX(seq) FROM history h WHERE h.proposal_key = proposals.key), 0), \
                 history_hash = COALESCE((SELECT hash FROM history h WHERE h.proposal_key = proposals.key ORDER BY seq DESC LIMIT 1), history_hash)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["history_seq", "history_hash"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("proposals"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Due timers are taken in (fire_at, id) order: an index in that order lets a page be read
/// without sorting every due timer.
struct TimersInFiringOrder;

impl MigrationName for TimersInFiringOrder {
    fn name(&self) -> &str {
        "m20261127_000005_timers_in_firing_order"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TimersInFiringOrder {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "timers_firing_order",
                timer::Entity,
                &["state", "fire_at", "id"],
            ))
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS timers_due")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("timers_due", timer::Entity, &["state", "fire_at"]))
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS timers_firing_order")
            .await?;
        Ok(())
    }
}

/// An agency's statistics read its replies and receipts by agency: without these indexes
/// each figure scans every reply and receipt of every agency.
struct StatisticsByAgency;

impl MigrationName for StatisticsByAgency {
    fn name(&self) -> &str {
        "m20261127_000006_statistics_by_agency"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StatisticsByAgency {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("replies_agency", reply::Entity, &["agency", "round"]))
            .await?;
        manager
            .create_index(index(
                "feedback_agency",
                feedback::Entity,
                &["agency", "round"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS replies_agency")
            .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS feedback_agency")
            .await?;
        Ok(())
    }
}

/// Per-agency counters for the statistics, as they were kept until
/// [`StatisticsByJurisdiction`] replaced them (which fills its own from the rows).
struct AgencyStatistics;

impl MigrationName for AgencyStatistics {
    fn name(&self) -> &str {
        "m20261127_000007_agency_statistics"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AgencyStatistics {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_table("agency_statistics").await? {
            return Ok(());
        }
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("agency_statistics"))
                    .col(ColumnDef::new(Alias::new("agency")).text().not_null())
                    .col(ColumnDef::new(Alias::new("name")).text().not_null())
                    .col(
                        ColumnDef::new(Alias::new("value"))
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(Alias::new("agency"))
                            .col(Alias::new("name")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS agency_statistics")
            .await?;
        Ok(())
    }
}

/// Room in each page of the tables rewritten in place on every event (PostgreSQL): an update
/// that changes no indexed column then stays on its page (a heap-only update) and touches
/// none of the table's indexes. A proposal's reminders and most steps change only its
/// document and version; the counters change only their value.
struct RoomForUpdates;

impl MigrationName for RoomForUpdates {
    fn name(&self) -> &str {
        "m20261127_000008_room_for_updates"
    }
}

/// Tables and the share of each page new rows may fill.
const FILLFACTORS: [(&str, u8); 3] = [("proposals", 70), ("tasks", 80), ("agency_statistics", 50)];

#[async_trait::async_trait]
impl MigrationTrait for RoomForUpdates {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_fillfactors(manager, |fill| fill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        set_fillfactors(manager, |_| 100).await
    }
}

async fn set_fillfactors(manager: &SchemaManager<'_>, fill: fn(u8) -> u8) -> Result<(), DbErr> {
    if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    for (table, percent) in FILLFACTORS {
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "ALTER TABLE {table} SET (fillfactor = {})",
                fill(percent)
            ))
            .await?;
    }
    Ok(())
}

/// Dead letters in the database rather than only in a broker queue: listing them reads
/// rows instead of taking messages (which raised their delivery count and reordered them),
/// and nothing a broker does to its queues can lose them.
struct DeadLetters;

impl MigrationName for DeadLetters {
    fn name(&self) -> &str {
        "m20261201_000201_dead_letters"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for DeadLetters {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, dead_letter::Entity).await?;
        manager
            .create_index(index(
                "dead_letters_waiting",
                dead_letter::Entity,
                &["replayed_at", "first_seen_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "dead_letters_event",
                dead_letter::Entity,
                &["event_id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS dead_letters")
            .await?;
        Ok(())
    }
}

/// The holiday files an operator loaded, so that every role counts with them without a
/// restart.
struct CalendarFiles;

impl MigrationName for CalendarFiles {
    fn name(&self) -> &str {
        "m20261201_000001_calendar_files"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CalendarFiles {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, calendar_file::Entity).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS calendar_files")
            .await?;
        Ok(())
    }
}

/// A reply keeps the date the engine recorded it on beside the date its letter declares.
struct ReplyRecordedOn;

impl MigrationName for ReplyRecordedOn {
    fn name(&self) -> &str {
        "m20261201_000101_reply_recorded_on"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ReplyRecordedOn {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "replies",
            ColumnDef::new(Alias::new("recorded_on")).date().null(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_column(manager, "replies", "recorded_on").await
    }
}

/// The access audit: one row per HTTP request.
struct AccessAudit;

impl MigrationName for AccessAudit {
    fn name(&self) -> &str {
        "m20261201_000102_access_audit"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AccessAudit {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, access_audit::Entity).await?;
        for statement in [
            index("access_audit_at", access_audit::Entity, &["at"]),
            index(
                "access_audit_agency",
                access_audit::Entity,
                &["agency", "at"],
            ),
            index(
                "access_audit_proposal",
                access_audit::Entity,
                &["proposal_key", "at"],
            ),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS access_audit")
            .await?;
        Ok(())
    }
}

/// Workflow definitions deployed at run time, so that a jurisdiction's rules need no build.
struct WorkflowDefinitions;

impl MigrationName for WorkflowDefinitions {
    fn name(&self) -> &str {
        "m20261201_000401_workflow_definitions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for WorkflowDefinitions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, workflow_definition::Entity).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS workflow_definitions")
            .await?;
        Ok(())
    }
}

/// Jurisdictions, the definitions each may use and the agencies that serve each; every
/// proposal and task row names its jurisdiction, so that a supervisor's lists are one
/// index range per jurisdiction. `cohandle migrate` then fills the column of the rows
/// written before (`jurisdictions::backfill`).
struct Jurisdictions;

impl MigrationName for Jurisdictions {
    fn name(&self) -> &str {
        "m20261201_000501_jurisdictions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Jurisdictions {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, jurisdiction::Entity).await?;
        create(manager, jurisdiction_definition::Entity).await?;
        create(manager, jurisdiction_agency::Entity).await?;
        for table in ["proposals", "tasks"] {
            add_column(
                manager,
                table,
                ColumnDef::new(Alias::new("jurisdiction"))
                    .string()
                    .not_null()
                    .default(""),
            )
            .await?;
        }
        for statement in [
            index("jurisdictions_parent", jurisdiction::Entity, &["parent"]),
            index(
                "jurisdiction_agencies_agency",
                jurisdiction_agency::Entity,
                &["agency"],
            ),
            index(
                "proposals_jurisdiction",
                proposal::Entity,
                &["jurisdiction", "due_on"],
            ),
            index(
                "tasks_jurisdiction",
                task::Entity,
                &["jurisdiction", "due_on"],
            ),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for statement in [
            "DROP INDEX IF EXISTS proposals_jurisdiction",
            "DROP INDEX IF EXISTS tasks_jurisdiction",
        ] {
            db.execute_unprepared(statement).await?;
        }
        drop_column(manager, "proposals", "jurisdiction").await?;
        drop_column(manager, "tasks", "jurisdiction").await?;
        for table in [
            "jurisdiction_agencies",
            "jurisdiction_definitions",
            "jurisdictions",
        ] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}

/// An agency's own proposals are read in key order through its tasks: an index in that order
/// lets a page stop after its rows instead of gathering every task of the agency.
struct TasksByAgencyAndProposal;

impl MigrationName for TasksByAgencyAndProposal {
    fn name(&self) -> &str {
        "m20261201_000510_tasks_by_agency_and_proposal"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TasksByAgencyAndProposal {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "tasks_agency_proposal",
                task::Entity,
                &["agency", "proposal_key"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS tasks_agency_proposal")
            .await?;
        Ok(())
    }
}

/// Events held with their proposal until the step they depend on arrives (or their window
/// ends): found by proposal in arrival order, and by the end of their window.
struct HeldEvents;

impl MigrationName for HeldEvents {
    fn name(&self) -> &str {
        "m20261201_000520_held_events"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for HeldEvents {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, held_event::Entity).await?;
        manager
            .create_index(index(
                "held_events_proposal",
                held_event::Entity,
                &["proposal_key", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "held_events_until",
                held_event::Entity,
                &["held_until"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS held_events")
            .await?;
        Ok(())
    }
}

/// The statistics counters per scope (a jurisdiction, or `*` for everything), session, kind
/// and agency, in place of the per-agency ones, so that a supervisor reads the counters of its
/// jurisdictions; the trend's counters per scope and month; and the co-handlers' opinions
/// they count. Filled from the rows.
struct StatisticsByJurisdiction;

impl MigrationName for StatisticsByJurisdiction {
    fn name(&self) -> &str {
        "m20261201_000530_statistics_by_jurisdiction"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for StatisticsByJurisdiction {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create(manager, opinion::Entity).await?;
        let tables: [(&str, &[&str]); 2] = [
            (
                "statistics_counters",
                &["scope", "session", "kind", "agency", "name"],
            ),
            (
                "statistics_months",
                &["scope", "session", "kind", "month", "name"],
            ),
        ];
        let mut created = false;
        for (table, key) in tables {
            if manager.has_table(table).await? {
                continue;
            }
            let mut statement = Table::create();
            statement.table(Alias::new(table));
            let mut primary = Index::create();
            for column in key {
                statement.col(ColumnDef::new(Alias::new(*column)).text().not_null());
                primary.col(Alias::new(*column));
            }
            statement
                .col(
                    ColumnDef::new(Alias::new("value"))
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .primary_key(&mut primary);
            manager.create_table(statement).await?;
            if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
                // Room on each page for the updates of every batch (see `RoomForUpdates`).
                manager
                    .get_connection()
                    .execute_unprepared(&format!("ALTER TABLE {table} SET (fillfactor = 50)"))
                    .await?;
            }
            created = true;
        }
        if created {
            crate::statistics::fill(manager.get_connection())
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS agency_statistics")
            .await?;
        Ok(())
    }

    /// Back to the per-agency counters, empty: the older version's `cohandle statistics
    /// rebuild` fills them again.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in ["statistics_counters", "statistics_months", "opinions"] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        AgencyStatistics.up(manager).await
    }
}

/// The names the search by person looks in, as a column of their own: the lead deputy's and
/// the co-signers' names, read before from each proposal's document (parsed per row); filled
/// for the proposals written before.
struct ProposalPeople;

impl MigrationName for ProposalPeople {
    fn name(&self) -> &str {
        "m20261201_000540_proposal_people"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for ProposalPeople {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "proposals",
            ColumnDef::new(Alias::new("people"))
                .text()
                .not_null()
                .default(""),
        )
        .await?;
        let fill = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE proposals SET people = COALESCE(CAST(document AS jsonb) #>> '{info,lead_deputy}', '') \
                 || chr(10) || COALESCE(CAST(document AS jsonb) #>> '{info,co_signers}', '') WHERE people = ''"
            }
            _ => {
                "UPDATE proposals SET people = COALESCE(json_extract(document, '$.info.lead_deputy'), '') \
                 || char(10) || COALESCE(json_extract(document, '$.info.co_signers'), '') WHERE people = ''"
            }
        };
        manager.get_connection().execute_unprepared(fill).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_column(manager, "proposals", "people").await
    }
}

/// The obligations still open, by jurisdiction and by agency in due-date order, with what
/// counting them past due needs (an index-only count on PostgreSQL once vacuumed): a
/// supervisor's or an agency's on-time rate counts them on every statistics read. And the
/// proposals of a jurisdiction by due date with their keys, so that a supervisor's page picks
/// its keys from the index alone.
struct OpenTasksByDueDate;

impl MigrationName for OpenTasksByDueDate {
    fn name(&self) -> &str {
        "m20261201_000550_open_tasks_by_due_date"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for OpenTasksByDueDate {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements: [&str; 4] = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => [
                "CREATE INDEX IF NOT EXISTS tasks_open_by_jurisdiction ON tasks (jurisdiction, due_on) \
                 INCLUDE (agency, due_deadline, session, kind) WHERE active AND NOT terminal",
                "CREATE INDEX IF NOT EXISTS tasks_open_by_agency ON tasks (agency, due_on) \
                 INCLUDE (due_deadline, session, kind) WHERE active AND NOT terminal",
                "CREATE INDEX IF NOT EXISTS proposals_jurisdiction_keys ON proposals (jurisdiction, due_on) \
                 INCLUDE (key)",
                "DROP INDEX IF EXISTS proposals_jurisdiction",
            ],
            _ => [
                "CREATE INDEX IF NOT EXISTS tasks_open_by_jurisdiction ON tasks \
                 (jurisdiction, due_on, agency, due_deadline, session, kind) WHERE active AND NOT terminal",
                "CREATE INDEX IF NOT EXISTS tasks_open_by_agency ON tasks \
                 (agency, due_on, due_deadline, session, kind) WHERE active AND NOT terminal",
                "CREATE INDEX IF NOT EXISTS proposals_jurisdiction_keys ON proposals \
                 (jurisdiction, due_on, key)",
                "DROP INDEX IF EXISTS proposals_jurisdiction",
            ],
        };
        for statement in statements {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in [
            "tasks_open_by_jurisdiction",
            "tasks_open_by_agency",
            "proposals_jurisdiction_keys",
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
        manager
            .create_index(index(
                "proposals_jurisdiction",
                proposal::Entity,
                &["jurisdiction", "due_on"],
            ))
            .await
    }
}

/// Indexes no query reads, which every write still paid for, and two made partial: the
/// pending timers by firing time (a fired or cancelled timer leaves that index), the open
/// tasks by due date. Dropped: the history by event id (a proposal's changes are read by
/// key and sequence), the inbox by proposal, proposals by
/// state and by session (too few values to choose by), tasks by agency and state (an
/// agency's tasks are read by key), and the two indexes the partial ones replace. A
/// supervisor's proposals by jurisdiction carry their day of assignment too, so that a
/// search by days of assignment reads the index alone.
struct UnusedIndexes;

impl MigrationName for UnusedIndexes {
    fn name(&self) -> &str {
        "m20261208_000560_unused_indexes"
    }
}

/// The indexes [`UnusedIndexes`] drops, as they were.
const UNUSED: [(&str, &str, &[&str]); 7] = [
    ("timers_firing_order", "timers", &["state", "fire_at", "id"]),
    ("history_event", "history", &["event_id"]),
    ("inbox_proposal", "inbox", &["proposal_key"]),
    ("proposals_state", "proposals", &["state"]),
    ("proposals_session", "proposals", &["session"]),
    ("tasks_agency_state", "tasks", &["agency", "state"]),
    ("tasks_due_on", "tasks", &["due_on", "agency"]),
];

#[async_trait::async_trait]
impl MigrationTrait for UnusedIndexes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let by_jurisdiction = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "CREATE INDEX IF NOT EXISTS proposals_jurisdiction_dates ON proposals \
                 (jurisdiction, due_on) INCLUDE (key, assigned_on)"
            }
            _ => {
                "CREATE INDEX IF NOT EXISTS proposals_jurisdiction_dates ON proposals \
                 (jurisdiction, due_on, key, assigned_on)"
            }
        };
        for statement in [
            "CREATE INDEX IF NOT EXISTS tasks_open_by_due_date ON tasks (due_on) \
             WHERE active AND NOT terminal",
            "CREATE INDEX IF NOT EXISTS timers_pending ON timers (fire_at, id) \
             WHERE state = 'pending'",
            by_jurisdiction,
            "DROP INDEX IF EXISTS proposals_jurisdiction_keys",
        ] {
            db.execute_unprepared(statement).await?;
        }
        for (name, _, _) in UNUSED {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in UNUSED {
            manager
                .create_index(index(name, Alias::new(table), columns))
                .await?;
        }
        for added in [
            "tasks_open_by_due_date",
            "timers_pending",
            "proposals_jurisdiction_dates",
        ] {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {added}"))
                .await?;
        }
        manager
            .create_index(index(
                "proposals_jurisdiction_keys",
                proposal::Entity,
                &["jurisdiction", "due_on", "key"],
            ))
            .await?;
        Ok(())
    }
}
