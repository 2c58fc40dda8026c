/* dashboard: the /dashboard metrics (contract 3.2). A registry on the home
 * loop counts the dashboard sockets of each org on this broker; every
 * dashboard_interval, and when a socket of an org connects, one database
 * job per org (never per socket) counts its tickets, and presence gives its
 * staff's status; metrics:tickets, metrics:queue and metrics:agents then go
 * to room org:<org> of /dashboard on this broker's loops. */
#ifndef PD_DASHBOARD_H
#define PD_DASHBOARD_H

struct loop;
struct sio_socket;

/* Home loop, before it runs. 0 or -errno. */
int dashboard_start(struct loop *home);
/* Any loop: a /dashboard socket came / goes (its org from the token). */
void dashboard_add(struct sio_socket *s);
void dashboard_remove(struct sio_socket *s);
/* Home loop: no more refreshes. */
void dashboard_stop(void);
/* After the loops stopped. */
void dashboard_fini(void);

#endif
