-- XEP-0163 PEP nodes of each account with their configuration, their items (seq orders them by
-- publication), XEP-0054 vCards and XEP-0049 private XML. Deleting an account deletes them all.
CREATE TABLE pep_nodes (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    node TEXT NOT NULL,
    access_model TEXT NOT NULL,
    persist_items INTEGER NOT NULL,
    max_items INTEGER NOT NULL,
    send_last TEXT NOT NULL,
    PRIMARY KEY (username, node)
);

CREATE TABLE pep_items (
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (username, node, item_id),
    FOREIGN KEY (username, node) REFERENCES pep_nodes(username, node) ON DELETE CASCADE
);
CREATE INDEX pep_items_by_seq ON pep_items (username, node, seq);

CREATE TABLE vcards (
    username TEXT PRIMARY KEY REFERENCES users(username) ON DELETE CASCADE,
    vcard TEXT NOT NULL
);

CREATE TABLE private_xml (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    namespace TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (username, namespace)
);
