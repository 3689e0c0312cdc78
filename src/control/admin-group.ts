// adminSocketGroup -> gid. getent asks NSS, so a group from LDAP or sssd resolves like a local one.
import { execFile } from 'node:child_process';

/** A numeric gid is taken as it is; a name must exist on this host. */
export function resolveAdminGroup(group: string | number | undefined): Promise<number | undefined> {
  if (group === undefined) return Promise.resolve(undefined);
  if (typeof group === 'number') return Promise.resolve(group);
  return new Promise((resolve, reject) => {
    execFile('getent', ['group', group], { timeout: 10_000 }, (error, stdout) => {
      // "name:x:gid:members"; exit 2 means no such group.
      const gid = Number(stdout.split(':')[2]);
      if (!error && Number.isInteger(gid)) return resolve(gid);
      reject(new Error(`"adminSocketGroup": no group "${group}" on this host (getent group ${group} found none); create it (groupadd ${group}), or write its numeric gid`));
    });
  });
}
