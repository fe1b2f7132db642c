"""The reference ERP's tables, in the SQL that SQLite and PostgreSQL both take.

`erp_commands` is the answer to each command id (UNIQUE): applied with its document number or
rejected with its reason. `erp_documents` is what an applied command became, `gl_journal_lines`
the general-ledger lines of a journal entry (money in integer cents), `erp_periods` the
accounting months and whether they are open.
"""

TABLES = """
CREATE TABLE IF NOT EXISTS erp_periods (
    period TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed'))
);
CREATE TABLE IF NOT EXISTS erp_commands (
    seq {id_column},
    command_id TEXT NOT NULL UNIQUE,
    process_id TEXT NOT NULL,
    command_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('APPLIED', 'REJECTED')),
    document_number TEXT UNIQUE,
    reason TEXT,
    acknowledged_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS erp_documents (
    document_number TEXT PRIMARY KEY,
    command_id TEXT NOT NULL UNIQUE REFERENCES erp_commands (command_id),
    kind TEXT NOT NULL,
    effective_date TEXT NOT NULL,
    period TEXT NOT NULL,
    cost_center_id TEXT NOT NULL,
    reverses_command_id TEXT,
    amount_cents BIGINT,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS gl_journal_lines (
    document_number TEXT NOT NULL REFERENCES erp_documents (document_number),
    line_number INTEGER NOT NULL,
    gl_account TEXT NOT NULL,
    cost_center_id TEXT NOT NULL,
    period TEXT NOT NULL,
    debit_cents BIGINT NOT NULL,
    credit_cents BIGINT NOT NULL,
    memo TEXT NOT NULL,
    PRIMARY KEY (document_number, line_number)
);
"""
ID_COLUMN = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
}
