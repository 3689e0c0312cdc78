// Names that operators of ipvsadm, keepalived and HAProxy type out of habit, and what LAS calls
// the same thing (or that it has none). Consulted before the typo guess: "mh" is ipvsadm's Maglev,
// not a typo of "sh", a different scheduler.

/** Unknown keys: what to write instead, wherever the key appears. */
const KEYS: Record<string, string> = {
  // keepalived virtual_server / real_server blocks
  virtual_server: 'keepalived\'s virtual_server is an entry of "services" (with "vip", "port", "protocol")',
  virtual_server_group: 'LAS has no virtual_server_group: list each VIP as its own service',
  real_server: 'keepalived\'s real_server is an entry of the service\'s "servers" list, { "address": ..., "weight": ... }',
  lb_algo: 'keepalived\'s lb_algo is "scheduler" in LAS (mh -> "maglev", wrr, rr, wlc, sh)',
  lvs_sched: 'keepalived\'s lvs_sched is "scheduler" in LAS (mh -> "maglev", wrr, rr, wlc, sh)',
  lb_kind: 'LAS always forwards by direct routing (lb_kind DR, ipvsadm -g): remove it',
  lvs_method: 'LAS always forwards by direct routing (lvs_method DR, ipvsadm -g): remove it',
  delay_loop: 'keepalived\'s delay_loop is "healthCheck": { "interval": seconds } in LAS',
  connect_timeout: 'keepalived\'s connect_timeout is "healthCheck": { "timeout": seconds } in LAS',
  connect_port: 'keepalived\'s connect_port is "healthCheck": { "port": ... } in LAS',
  retry: 'keepalived\'s retry is "healthCheck": { "fall": failures } in LAS',
  nb_get_retry: 'keepalived\'s nb_get_retry is "healthCheck": { "fall": failures } in LAS',
  delay_before_retry: 'LAS retries at the check "interval"; it has no separate delay_before_retry',
  persistence_timeout: 'LAS keeps a client on its server with "flowKey": "addresses" (ipvsadm -p); how long an idle flow is remembered is "flowTimeouts" (per TCP state) bounded by "flowTable": { "idleTimeout": seconds }',
  persistence_granularity: 'LAS persistence ("flowKey": "addresses") is per client address (/32); it has no wider granularity',
  persistent: 'ipvsadm -p is "flowKey": "addresses" in LAS; the idle time is "flowTimeouts" and "flowTable.idleTimeout"',
  inhibit_on_failure: 'LAS never removes a failed server: it gets no new flows, and "onServerDown": "keep" leaves its existing flows on it (inhibit_on_failure), "reschedule" moves them',
  sorry_server: 'keepalived\'s sorry_server is "sorryServer": { "address": ... } in LAS',
  sorry_server_inhibit: 'LAS has no sorry_server_inhibit: remove it',
  quorum: 'LAS has no quorum: new flows go to "sorryServer" only when no server can take them',
  quorum_up: 'LAS has no quorum (quorum_up): remove it',
  quorum_down: 'LAS has no quorum (quorum_down): remove it',
  hysteresis: 'LAS has no quorum hysteresis: remove it',
  alpha: 'LAS has no alpha mode: servers start up and are taken down by "fall" failed checks',
  omega: 'LAS has no omega: remove it',
  ha_suspend: 'LAS has no ha_suspend: remove it',
  ops: 'LAS has no one-packet scheduling (ops): a UDP flow is kept on its server like a TCP one',
  fwmark: 'LAS has no firewall-mark services: a service is a VIP, a port (or every port) and a protocol',
  HTTP_GET: 'keepalived\'s HTTP_GET is "healthCheck": { "type": "http", "path": ..., "expectStatus": [200, 399] }',
  SSL_GET: 'LAS checks plain HTTP only: for HTTPS use "healthCheck": { "type": "command", "command": "curl -fsk https://$LAS_SERVER/..." }',
  TCP_CHECK: 'keepalived\'s TCP_CHECK is "healthCheck": { "type": "tcp" }',
  MISC_CHECK: 'keepalived\'s MISC_CHECK is "healthCheck": { "type": "command", "command": ... }',
  misc_path: 'keepalived\'s misc_path is "healthCheck": { "type": "command", "command": ... }',
  misc_timeout: 'keepalived\'s misc_timeout is "healthCheck": { "timeout": seconds }',
  url: 'keepalived\'s url block is "healthCheck": { "type": "http", "path": ..., "expectStatus": [...] }',
  status_code: 'keepalived\'s status_code is "healthCheck": { "expectStatus": [lowest, highest] }',
  virtualhost: 'LAS HTTP checks send no configurable Host header; use a "command" check (curl -H) if the server needs one',
  bindto: 'LAS checks from the dispatcher\'s own address: remove bindto',
  // ipvsadm
  timeout: 'ipvsadm --set is "flowTimeouts": { "tcpEstablished", "tcpFinWait", "udp" } in LAS',
  // HAProxy
  balance: 'HAProxy\'s balance is "scheduler" in LAS (roundrobin -> "wrr", leastconn -> "wlc", source -> "sh")',
  backup: 'LAS has one backup server per service: "sorryServer": { "address": ... }',
  maxconn: 'LAS has no per-server connection limit (maxconn): remove it',
  inter: 'HAProxy\'s inter is "healthCheck": { "interval": seconds } in LAS',
};

/** Values of one key: the LAS value, or why there is none. */
const VALUES: Record<string, Record<string, string>> = {
  scheduler: {
    mh: '"mh" is ipvsadm\'s Maglev hashing: write "maglev"',
    lc: 'ipvsadm "lc" (least connections) is "wlc" in LAS, with equal weights',
    dh: 'LAS has no destination hashing ("dh"); "sh" hashes the client address, "maglev" the flow',
    sed: 'LAS has no "sed"; "wlc" (weighted least flows) is the nearest',
    nq: 'LAS has no "nq"; "wlc" (weighted least flows) is the nearest',
    lblc: 'LAS has no locality-based "lblc"; use "maglev" or "sh"',
    lblcr: 'LAS has no locality-based "lblcr"; use "maglev" or "sh"',
    fo: 'LAS has no weighted failover "fo"; give the backup server to "sorryServer"',
    ovf: 'LAS has no overflow scheduler "ovf"; use "wlc"',
    twos: 'LAS has no "twos"; "wlc" (weighted least flows) is the nearest',
    roundrobin: 'HAProxy\'s roundrobin is "wrr" (weighted round-robin) in LAS',
    'static-rr': 'HAProxy\'s static-rr is "wrr" in LAS',
    leastconn: 'HAProxy\'s leastconn is "wlc" in LAS',
    source: 'HAProxy\'s source is "sh" (source hashing) in LAS',
    first: 'LAS has no "first" scheduler; "sorryServer" takes flows when no server can',
  },
  type: {
    TCP_CHECK: 'keepalived\'s TCP_CHECK is "tcp"',
    HTTP_GET: 'keepalived\'s HTTP_GET is "http"',
    SSL_GET: 'LAS checks plain HTTP only: for HTTPS write "command" with e.g. "curl -fsk https://$LAS_SERVER/"',
    MISC_CHECK: 'keepalived\'s MISC_CHECK is "command"',
    SMTP_CHECK: 'LAS has no SMTP check: write "command" with a script that talks SMTP',
    DNS_CHECK: 'LAS has no DNS check: write "command" with e.g. "dig @$LAS_SERVER ..."',
    UDP_CHECK: 'LAS has no UDP check: write "command" with a script that probes the server',
    PING_CHECK: 'LAS has no ping check: write "command" with e.g. "ping -c1 -W1 $LAS_SERVER"',
  },
  protocol: {
    sctp: 'LAS balances TCP and UDP only',
    SCTP: 'LAS balances TCP and UDP only',
  },
};

export function foreignKeyHint(key: string): string | undefined {
  return Object.hasOwn(KEYS, key) ? KEYS[key] : undefined;
}

export function foreignValueHint(field: string, value: string): string | undefined {
  const values = VALUES[field];
  return values && Object.hasOwn(values, value) ? values[value] : undefined;
}
