import { describe, expect, it } from 'vitest';
import { planRestartTree, treeSpec } from '../src/image/restart-plan.ts';

const p = (pid: number, ppid: number, pgid: number, sid: number, host = 'h') => ({ host, pid, ppid, pgid, sid });

describe('planRestartTree', () => {
  it('rebuilds parents, inherited groups and a session leader', () => {
    // 10 launched from a shell (group 10, session 1); 11 and 12 its children;
    // 13 a grandchild under 11 that called setsid.
    const plan = planRestartTree([p(10, 1, 10, 1), p(11, 10, 10, 1), p(12, 10, 10, 1), p(13, 11, 13, 13)]);
    expect(plan).toEqual([
      { parent: -1, setsid: false, group: -2 },
      { parent: 0, setsid: false, group: -1 },
      { parent: 0, setsid: false, group: -1 },
      { parent: 1, setsid: true, group: -2 },
    ]);
  });

  it('joins a sibling-led group (a shell pipeline)', () => {
    // shell 20 (session leader), job leader 21 leads group 21, 22 joins it
    const plan = planRestartTree([p(20, 1, 20, 20), p(21, 20, 21, 20), p(22, 20, 21, 20)]);
    expect(plan[1]).toEqual({ parent: 0, setsid: false, group: -2 });
    expect(plan[2]).toEqual({ parent: 0, setsid: false, group: 1 });
  });

  it('keeps orphans and processes of other hosts as roots', () => {
    const plan = planRestartTree([p(30, 1, 30, 1), p(31, 1, 30, 1), p(32, 30, 30, 1, 'other')]);
    expect(plan.map((n) => n.parent)).toEqual([-1, -1, -1]);
    expect(plan[1]?.group).toBe(0);
  });

  it('encodes the restart program argument', () => {
    expect(treeSpec([{ parent: -1, setsid: false, group: -2 }, { parent: 0, setsid: true, group: -1 }])).toBe('-1,0,-2;0,1,-1');
  });
});
