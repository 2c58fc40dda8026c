#!/usr/bin/env python3
"""docs_check: compare the manual pages with the code.

  docs_check.py keys    SRC BUILD   every key of shared/pd_cfg.c's table is in
                                    pushdesk.conf(5) with its default and its
                                    PUSHDESK_<KEY>, and nothing else is
  docs_check.py events  SRC         every event name the code emits and every
                                    event, room, code and channel of the
                                    contract is in pushdesk-events(7)
  docs_check.py options SRC         every long option of a getopt_long table is
                                    in the page of its program
  docs_check.py dialects SRC        pushdesk-events(7)'s DIALECTS section has a
                                    subsection per namespace and dialect of
                                    contract section 7, each with its events

Each prints what it checked on stdout, the problems on stderr, and exits 0
(all good), 1 (a real mismatch) or 77 (nothing to check yet: the code is not
written, which is not a documentation error).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

# ---------------------------------------------------------------- C parsing

_TOKEN = re.compile(
    r'''(?P<ws>\s+)|(?P<lc>//[^\n]*)|(?P<bc>/\*.*?\*/)|(?P<pp>^\s*\#[^\n]*(?:\\\n[^\n]*)*)
      |(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<chr>'(?:[^'\\\n]|\\.)*')
      |(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>[0-9][A-Za-z0-9_.]*)|(?P<p>.)''',
    re.S | re.M | re.X)


def c_unescape(body):
    out, i = [], 0
    simple = {'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0'}
    while i < len(body):
        c = body[i]
        if c == '\\' and i + 1 < len(body):
            out.append(simple.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def c_tokens(text):
    """(kind, value) tokens; comments and preprocessor lines dropped,
    adjacent string literals joined."""
    toks = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ('ws', 'lc', 'bc', 'pp'):
            continue
        val = m.group(kind)
        if kind == 'str':
            val = c_unescape(val[1:-1])
            if toks and toks[-1][0] == 'str':
                toks[-1] = ('str', toks[-1][1] + val)
                continue
        toks.append((kind, val))
    return toks


def cfg_table_from_source(path):
    """[(key, default or None)] from the initializer of the table that holds
    "database_url" in pd_cfg.c, or None if there is no such table yet."""
    try:
        text = open(path, encoding='utf-8', errors='replace').read()
    except OSError:
        return None
    toks = c_tokens(text)
    for anchor, t in enumerate(toks):
        if t == ('str', 'database_url'):
            table = _table_at(toks, anchor)
            if table and len(table) > 3:
                return table
    return None


def _table_at(toks, anchor):
    # The table's opening brace: the '{' after the nearest '=' before the
    # anchor whose brace level encloses the anchor.
    start = None
    for i in range(anchor, 0, -1):
        if toks[i] == ('p', '{') and toks[i - 1] == ('p', '='):
            start = i
            break
    if start is None:
        return None
    # Split the initializer into elements (commas at depth 1), each element
    # into arguments (commas at depth 2).
    entries, depth, elem, arg = [], 0, [], []
    for kind, val in toks[start:]:
        if kind == 'p' and val in '{([':
            depth += 1
            if depth == 1:
                continue
            if depth == 2:
                continue
        elif kind == 'p' and val in '})]':
            depth -= 1
            if depth == 0:
                break
            if depth == 1:
                if arg:
                    elem.append(arg)
                if elem:
                    entries.append(elem)
                elem, arg = [], []
                continue
        elif kind == 'p' and val == ',' and depth == 2:
            elem.append(arg)
            arg = []
            continue
        elif kind == 'p' and val == ',' and depth == 1:
            continue
        if depth >= 2:
            arg.append((kind, val))
    table = []
    for elem in entries:
        key = default = None
        # Positional arguments: a plain string literal, or None for anything
        # else (a macro, a number, NULL).
        plain = [a[0][1] if len(a) == 1 and a[0][0] == 'str' else None for a in elem]
        for a in elem:
            strs = [v for k, v in a if k == 'str']
            if len(a) >= 3 and a[0] == ('p', '.') and a[1][0] == 'id' and strs:
                field = a[1][1]
                if field in ('name', 'key') and key is None:
                    key = strs[0]
                elif field.startswith('def') and default is None:
                    default = strs[0]
        if key is None and plain and plain[0] is not None:
            key = plain[0]
            if len(plain) > 1:
                default = plain[1]
        if key is not None and re.fullmatch(r'[a-z][a-z0-9_]*', key):
            table.append((key, default))
    return table


def cfg_table_from_build(build, src):
    """[(key, default)] from the compiled table (pd_cfg_key_at), or None."""
    ctl = os.path.join(build, 'cli', 'pushdeskctl')
    if os.access(ctl, os.X_OK):
        try:
            r = subprocess.run([ctl, 'config-keys'], capture_output=True, text=True,
                               timeout=20, env=dict(os.environ, PUSHDESK_CONFIG=''))
            lines = [l for l in r.stdout.splitlines() if l.strip()]
            if r.returncode == 0 and lines and all(
                    re.match(r'[a-z][a-z0-9_]*(\t|$)', l) for l in lines):
                out = []
                for l in lines:
                    parts = l.split('\t')
                    out.append((parts[0], parts[1] if len(parts) > 1 else None))
                return out, 'pushdeskctl config-keys'
        except (OSError, subprocess.SubprocessError):
            pass
    lib = os.path.join(build, 'libpushdesk.a')
    cc = shutil.which(os.environ.get('CC', 'cc')) or shutil.which('gcc')
    if not (os.path.exists(lib) and cc):
        return None
    prog = r'''
#include <stdio.h>
#include <stddef.h>
const char *pd_cfg_key_at(size_t i, const char **default_value, const char **help);
int main(void) {
	const char *k, *d, *h;
	for (size_t i = 0; (d = NULL, h = NULL, k = pd_cfg_key_at(i, &d, &h)) != NULL; i++)
		printf("%s\t%s\n", k, d ? d : "");
	return 0;
}
'''
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, 'keys.c')
        exe = os.path.join(tmp, 'keys')
        open(c, 'w').write(prog)
        libs = ''
        pc = shutil.which('pkg-config')
        if pc:
            r = subprocess.run([pc, '--libs', 'jansson', 'libjwt', 'libcrypto', 'libsodium',
                                'libpq', 'hiredis', 'msgpack'], capture_output=True, text=True)
            if r.returncode == 0:
                libs = r.stdout.split()
        for extra in ([], libs):
            r = subprocess.run([cc, '-o', exe, c, lib] + list(extra) + ['-pthread'],
                               capture_output=True, text=True)
            if r.returncode == 0:
                break
        else:
            return None
        r = subprocess.run([exe], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            return None
        out = []
        for l in r.stdout.splitlines():
            k, _, d = l.partition('\t')
            out.append((k, d))
        return (out, 'pd_cfg_key_at() in libpushdesk.a') if out else None


def conf_page_keys(page):
    """{key: {'default': str or None, 'env': bool}} from pushdesk.conf(5)'s
    KEYS section."""
    lines = open(page, encoding='utf-8').read().splitlines()
    keys, cur, in_keys = {}, None, False
    for i, l in enumerate(lines):
        if l.startswith('.Sh '):
            in_keys = l.strip() == '.Sh KEYS'
            cur = None
            continue
        if not in_keys:
            continue
        m = re.match(r'\.It Cm ([a-z][a-z0-9_]*)\s*$', l)
        if m:
            cur = m.group(1)
            keys[cur] = {'default': None, 'env': False}
            continue
        if l.startswith('.It ') or l.startswith('.El'):
            cur = None
            continue
        if cur is None:
            continue
        if re.match(r'\.Ev PUSHDESK_%s\b' % cur.upper(), l):
            keys[cur]['env'] = True
        if keys[cur]['default'] is None:
            if l.strip() == 'Default: empty.':
                keys[cur]['default'] = ''
            elif l.strip() == 'Default:' and i + 1 < len(lines):
                m = re.match(r'\.Ql (.*?)(?: [.,;:])?\s*$', lines[i + 1])
                if m:
                    keys[cur]['default'] = m.group(1).replace('\\e', '\\').replace('\\&', '')
    return keys


def cmd_keys(src, build):
    page = os.path.join(src, 'man', 'pushdesk.conf.5')
    got = cfg_table_from_build(build, src) if build else None
    if got:
        table, how = got
    else:
        table, how = cfg_table_from_source(os.path.join(src, 'shared', 'pd_cfg.c')), \
            'the initializer in shared/pd_cfg.c'
    if not table:
        print('no configuration table in shared/pd_cfg.c yet')
        return SKIP
    doc = conf_page_keys(page)
    bad = 0
    code_keys = [k for k, _ in table]
    for k, d in table:
        if k not in doc:
            print('%s: key %s (default %r) is not documented' % (page, k, d), file=sys.stderr)
            bad += 1
            continue
        if not doc[k]['env']:
            print('%s: key %s does not name PUSHDESK_%s' % (page, k, k.upper()), file=sys.stderr)
            bad += 1
        if d is not None and doc[k]['default'] != d:
            print('%s: key %s: documented default %r, the code says %r'
                  % (page, k, doc[k]['default'], d), file=sys.stderr)
            bad += 1
    for k in doc:
        if k not in code_keys:
            print('%s: documents key %s, which the code does not know' % (page, k),
                  file=sys.stderr)
            bad += 1
    print('%d keys from %s, %d documented' % (len(table), how, len(doc)))
    return 1 if bad else 0


# ---------------------------------------------------------------- events

# The contract's catalogue (sections 3, 3.1-3.3, 6): events, error codes,
# connect_error messages, automatic rooms, Valkey channel forms.
CONTRACT_EVENTS = '''
ticket:join ticket:leave message:send typing:start typing:stop presence:ping
presence:status presence:subscribe presence:unsubscribe chat:focus chat:blur
notification:markRead notification:markAllRead
presence:sync user:online user:offline presence:update presence:list
ticket:created ticket:updated ticket:assigned message:new message:updated
message:read notification notification:count error connect_error
metrics:tickets metrics:queue metrics:agents
auth message message-back message-with-ack join echo
ticket:subscribe ticket:unsubscribe ticket:typing ticket:stopTyping
ticket:subscribed ticket:unsubscribed chat:message
auth:success joined leave left user:joined user:left presence
heartbeat join_conversation leave_conversation send_message presence:connected
message:sent new_message user_message conversation_status_changed
handoff_triggered agent_status_changed credits_updated
'''.split()
CONTRACT_LITERALS = [
    'FORBIDDEN', 'NOT_FOUND', 'BAD_REQUEST', 'RATE_LIMITED', 'INTERNAL',
    'AUTH_TOKEN_MISSING', 'AUTH_TOKEN_EXPIRED', 'AUTH_TOKEN_INVALID', 'Invalid namespace',
    'user:', 'org:', 'role:', 'agents:', 'team:', 'ticket:',
    'eventId', 'retryAfter', '/dashboard', '-request#', '-response#', 'socket.io',
    # section 7: namespaces, dialects, errors, rooms
    '/tickets', '/presence', '/notifications', '/chat', 'Invalid dialect',
    'INVALID_STATUS', 'MISSING_TOKEN', 'INVALID_TOKEN', 'presence:', 'ws:', 'conv:',
]

# Contract section 7, one entry per subsection of DIALECTS: its ".Ss"
# title, the events it must document (as Ic NAME) and the literals it must
# mention.
DIALECTS = [
    ('Namespace /tickets', 'ticket:subscribe ticket:unsubscribe ticket:typing ticket:stopTyping '
     'ticket:subscribed ticket:unsubscribed ticket:updated ticket:assigned message:new '
     'message:updated message:read error', ['FORBIDDEN', 'AUTH_TOKEN_MISSING',
                                             'AUTH_TOKEN_EXPIRED', 'AUTH_TOKEN_INVALID',
                                             'typing:start']),
    ('Namespace /presence', 'presence:status presence:subscribe presence:unsubscribe presence:update '
     'presence:list error', ['INVALID_STATUS', 'team:', 'lastSeen', 'offline']),
    ('Namespace /notifications', 'notification:markRead notification:markAllRead notification:count '
     'notification', ['unread']),
    ('Namespace /chat', 'ticket:subscribe ticket:unsubscribe chat:message message:new message:updated',
     ['message:send', 'delivered']),
    ('Namespace /dashboard', 'metrics:tickets metrics:queue metrics:agents', []),
    ('Dialect helpdesk', '', []),
    ('Dialect rooms', 'auth join leave message presence typing:start typing:stop auth:success joined '
     'left user:joined user:left presence:update notification error',
     ['FORBIDDEN', 'withCredentials', 'userName', 'createdAt', 'sendToRoom', 'broadcast',
      'notify', 'isUserOnline', 'getOnlineUsers']),
    ('Dialect presence', 'heartbeat chat:focus chat:blur join_conversation leave_conversation '
     'send_message presence:connected presence:update new_message message:sent message:read',
     ['chattingWith', 'lastActive', 'partnerId', 'conversationId', 'delivered', 'CLIENT',
      'FREELANCER', 'ADMIN', 'unread=1']),
    ('Dialect workspace', 'join_conversation leave_conversation new_message user_message '
     'conversation_status_changed handoff_triggered agent_status_changed credits_updated',
     ['workspaceId', 'MISSING_TOKEN', 'INVALID_TOKEN', 'FORBIDDEN', 'ws:', 'conv:',
      'HUMAN_AGENT', 'SYSTEM', 'USER', 'WEB', 'channelType', 'OPEN', 'PENDING', 'RESOLVED',
      'CLOSED']),
]
DIALECTS_ALL = ['Invalid dialect', 'dialect', 'helpdesk', 'rooms', 'presence', 'workspace',
                'user:', 'org:', 'agents:', 'role:', 'team:', 'ticket:', 'presence:', 'ws:',
                'conv:', 'ticket:typing', 'chat:message', 'send_message', 'heartbeat']
# String literals of the form word:word in the code that are not event names.
NOT_EVENTS = set()
EVENT_LITERAL = re.compile(r'[a-z][a-zA-Z]*:[a-z][a-zA-Z]*')


def code_event_literals(src):
    found = {}
    files = []
    for pat in ('broker/*.[ch]', 'broker/*/*.[ch]', 'api/*.[ch]', 'api/*/*.[ch]',
                'shared/*.[ch]', 'cli/*.[ch]'):
        files.extend(glob.glob(os.path.join(src, pat)))
    for f in sorted(set(files)):
        try:
            text = open(f, encoding='utf-8', errors='replace').read()
        except OSError:
            continue
        for kind, val in c_tokens(text):
            if kind == 'str' and EVENT_LITERAL.fullmatch(val) and val not in NOT_EVENTS:
                found.setdefault(val, os.path.relpath(f, src))
    return found, len(files)


def cmd_events(src):
    page = os.path.join(src, 'man', 'pushdesk-events.7')
    text = open(page, encoding='utf-8').read()
    documented = set(re.findall(r'^\.(?:It )?Ic ([A-Za-z_][\w:-]*)', text, re.M))
    documented |= set(re.findall(r'\bIc ([A-Za-z_][\w:-]*)', text))
    bad = 0
    for ev in CONTRACT_EVENTS:
        if ev not in documented:
            print('%s: contract event %s is not documented (as .Ic %s)' % (page, ev, ev),
                  file=sys.stderr)
            bad += 1
    for lit in CONTRACT_LITERALS:
        if lit not in text:
            print('%s: %r of the contract is not mentioned' % (page, lit), file=sys.stderr)
            bad += 1
    found, nfiles = code_event_literals(src)
    for ev, where in sorted(found.items()):
        if ev not in documented:
            print('%s: event %s (in %s) is not documented' % (page, ev, where),
                  file=sys.stderr)
            bad += 1
    print('%d contract events, %d event literals in %d source files, %d documented'
          % (len(CONTRACT_EVENTS), len(found), nfiles, len(documented)))
    return 1 if bad else 0


def cmd_dialects(src):
    """The DIALECTS section of pushdesk-events(7): one subsection per seed-001
    namespace and per dialect of contract section 7, each documenting its
    own events (not merely mentioned elsewhere on the page)."""
    page = os.path.join(src, 'man', 'pushdesk-events.7')
    text = open(page, encoding='utf-8').read()
    m = re.search(r'^\.Sh DIALECTS\n(.*?)(?=^\.Sh )', text, re.M | re.S)
    if not m:
        print('%s: no DIALECTS section' % page, file=sys.stderr)
        return 1
    body = m.group(1)
    bad = 0
    for lit in DIALECTS_ALL:
        if lit not in body:
            print('%s: DIALECTS does not mention %r' % (page, lit), file=sys.stderr)
            bad += 1
    subs = {}
    for sm in re.finditer(r'^\.Ss ([^\n]*)\n(.*?)(?=^\.Ss |\Z)', body, re.M | re.S):
        subs[sm.group(1).strip()] = sm.group(2)
    events = 0
    for title, evs, lits in DIALECTS:
        if title not in subs:
            print('%s: DIALECTS has no subsection .Ss %s' % (page, title), file=sys.stderr)
            bad += 1
            continue
        part = subs[title]
        documented = set(re.findall(r'\bIc ([A-Za-z_][\w:-]*)', part))
        for ev in evs.split():
            events += 1
            if ev not in documented:
                print('%s: DIALECTS, %s: event %s is not documented (as Ic %s)'
                      % (page, title, ev, ev), file=sys.stderr)
                bad += 1
        for lit in lits:
            if lit not in part:
                print('%s: DIALECTS, %s: %r is not mentioned' % (page, title, lit),
                      file=sys.stderr)
                bad += 1
    print('%d subsections, %d events of contract section 7' % (len(DIALECTS), events))
    return 1 if bad else 0


# ---------------------------------------------------------------- options

PROGRAMS = {  # page: source globs
    'man/pushdesk-broker.8': ['broker/main.c', 'broker/opt*.c', 'broker/cli*.c'],
    'man/pushdesk-api.8': ['api/main.c', 'api/opt*.c', 'api/cli*.c'],
    'man/pushdeskctl.1': ['cli/*.c'],
}
OPTION = re.compile(r'\{\s*"([a-z][a-z0-9-]*)"\s*,\s*(?:no_argument|required_argument|'
                    r'optional_argument|[012])\s*,')
ALWAYS_OK = {'help', 'version'}


def cmd_options(src):
    bad = checked = 0
    for page, pats in PROGRAMS.items():
        text = open(os.path.join(src, page), encoding='utf-8').read()
        files = sorted({f for p in pats for f in glob.glob(os.path.join(src, p))})
        for f in files:
            body = open(f, encoding='utf-8', errors='replace').read()
            for opt in OPTION.findall(body):
                checked += 1
                if opt in ALWAYS_OK:
                    continue
                if not re.search(r'Fl -%s\b' % re.escape(opt), text):
                    print('%s: option --%s (in %s) is not documented'
                          % (page, opt, os.path.relpath(f, src)), file=sys.stderr)
                    bad += 1
    if checked == 0:
        print('no getopt_long tables yet')
        return SKIP
    print('%d long options checked' % checked)
    return 1 if bad else 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, src = argv[1], argv[2]
    if cmd == 'keys':
        return cmd_keys(src, argv[3] if len(argv) > 3 else '')
    if cmd == 'events':
        return cmd_events(src)
    if cmd == 'options':
        return cmd_options(src)
    if cmd == 'dialects':
        return cmd_dialects(src)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
