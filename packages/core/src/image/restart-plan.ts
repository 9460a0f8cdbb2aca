// How the processes of a checkpoint relate, from the ids each image recorded
// at checkpoint time, turned into the tree the restart program rebuilds:
// parents fork their children before restoring themselves, session leaders
// call setsid, and process groups are joined as they were.

export interface ProcessIds {
  host: string;
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
}

/** group: -1 inherit from the parent, -2 lead its own group, k join the group image k leads. */
export interface TreeNode {
  parent: number;
  setsid: boolean;
  group: number;
}

export function planRestartTree(procs: readonly ProcessIds[]): TreeNode[] {
  const index = new Map<string, number>();
  procs.forEach((p, i) => index.set(`${p.host}\0${p.pid}`, i));
  const find = (host: string, pid: number): number => (pid > 0 ? (index.get(`${host}\0${pid}`) ?? -1) : -1);
  return procs.map((p, i) => {
    const parent = find(p.host, p.ppid);
    const setsid = p.sid > 0 && p.sid === p.pid;
    let group = -1;
    if (p.pgid > 0 && p.pgid === p.pid) group = -2;
    else {
      const leader = find(p.host, p.pgid);
      const parentGroup = parent >= 0 ? procs[parent]?.pgid : undefined;
      // inherited from the parent at fork: nothing to do
      if (leader >= 0 && leader !== i && parentGroup !== p.pgid) group = leader;
    }
    return { parent: parent === i ? -1 : parent, setsid, group };
  });
}

/** The restart program's --tree argument. */
export function treeSpec(nodes: readonly TreeNode[]): string {
  return nodes.map((n) => `${n.parent},${n.setsid ? 1 : 0},${n.group}`).join(';');
}
