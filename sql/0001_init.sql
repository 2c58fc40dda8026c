-- pushdesk schema, version 0001: organizations, teams, users, tickets,
-- messages, read receipts, notifications and the event outbox.
-- Applied once by `pushdeskctl migrate`, inside one transaction.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

CREATE TABLE users (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    team_id        uuid REFERENCES teams(id) ON DELETE SET NULL,
    role           text NOT NULL CHECK (role IN ('customer', 'agent', 'admin', 'service')),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email          text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash  text,               -- argon2id (libsodium crypto_pwhash_str); NULL = no login
    last_seen_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- Login looks users up by e-mail across organizations.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_idx ON users (org_id, created_at DESC, id DESC);
CREATE INDEX users_org_role_idx ON users (org_id, role);

CREATE TABLE tickets (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    customer_id  uuid NOT NULL REFERENCES users(id),
    assignee_id  uuid REFERENCES users(id),
    subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 500),
    status       text NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority     text NOT NULL DEFAULT 'normal'
                 CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   uuid REFERENCES users(id)
);
-- GET /tickets: newest first with a (created_at, id) cursor, per org, per
-- customer, and filtered by status or assignee.
CREATE INDEX tickets_org_idx ON tickets (org_id, created_at DESC, id DESC);
CREATE INDEX tickets_org_status_idx ON tickets (org_id, status, created_at DESC, id DESC);
CREATE INDEX tickets_org_assignee_idx ON tickets (org_id, assignee_id, created_at DESC, id DESC);
CREATE INDEX tickets_customer_idx ON tickets (customer_id, created_at DESC, id DESC);
-- /dashboard metrics:queue: open tickets with no assignee, oldest first.
CREATE INDEX tickets_unassigned_idx ON tickets (org_id, created_at)
    WHERE status = 'open' AND assignee_id IS NULL;

CREATE TABLE messages (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigserial NOT NULL UNIQUE,      -- total order for `after` cursors
    ticket_id   uuid NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    sender_id   uuid NOT NULL REFERENCES users(id),
    content     text NOT NULL CHECK (length(content) BETWEEN 1 AND 20000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz
);
-- GET /tickets/{id}/messages: oldest first, after a message id.
CREATE INDEX messages_ticket_idx ON messages (ticket_id, seq);

CREATE TABLE message_reads (
    message_id  uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    read_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_reads_user_idx ON message_reads (user_id);

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (length(type) BETWEEN 1 AND 100),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    message     text NOT NULL DEFAULT '' CHECK (length(message) <= 5000),
    data        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL;

-- The transactional outbox: a change and its event are written in one
-- transaction; the event is published to Valkey after the commit, and the
-- relay publishes what is still unpublished, in id order. id is the
-- event's eventId.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    org_id        uuid NOT NULL,
    namespace     text NOT NULL DEFAULT '/',
    event         text NOT NULL,
    rooms         text[] NOT NULL DEFAULT '{}',
    except_rooms  text[] NOT NULL DEFAULT '{}',
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
