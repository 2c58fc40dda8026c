# Migrations, applied in file-name order by `pushdeskctl migrate`.
sqldir = $(pkgdatadir)/sql
dist_sql_DATA = sql/0001_init.sql sql/0002_messages_unread.sql
