import { describe, expect, it } from 'vitest';
import type { MaintenanceWindow } from '../../src/model/desired.js';
import { InvalidWindowError, checkWindow, windowStatus } from '../../src/policy/windows.js';

// Saturday 02:00 UTC for two hours.
const saturdayNight: MaintenanceWindow = { schedule: '0 2 * * 6', duration: 7200, allow: ['reboot'] };

describe('windowStatus', () => {
  const cases: { why: string; window: MaintenanceWindow; now: string; expected: unknown }[] = [
    {
      why: 'the instant the schedule fires, the window is open (fire <= now)',
      window: saturdayNight,
      now: '2025-03-08T02:00:00.000Z',
      expected: { open: true, closesAt: new Date('2025-03-08T04:00:00.000Z') },
    },
    {
      why: 'inside the duration it stays open',
      window: saturdayNight,
      now: '2025-03-08T03:59:59.999Z',
      expected: { open: true, closesAt: new Date('2025-03-08T04:00:00.000Z') },
    },
    {
      why: 'at fire + duration it has closed (now < fire + duration is strict) and the next opening is a week later',
      window: saturdayNight,
      now: '2025-03-08T04:00:00.000Z',
      expected: { open: false, nextOpen: new Date('2025-03-15T02:00:00.000Z') },
    },
    {
      why: 'a moment before it opens, the next opening is that same night',
      window: saturdayNight,
      now: '2025-03-08T01:59:59.000Z',
      expected: { open: false, nextOpen: new Date('2025-03-08T02:00:00.000Z') },
    },
    {
      why: 'a time zone moves the window: 22:00 in Paris (UTC+1 in March) is 21:00 UTC',
      window: { schedule: '0 22 * * *', duration: 3600, timezone: 'Europe/Paris', allow: ['reboot'] },
      now: '2025-03-05T21:30:00.000Z',
      expected: { open: true, closesAt: new Date('2025-03-05T22:00:00.000Z') },
    },
    {
      why: 'a window longer than its period is open across the fire boundary (the latest fire decides)',
      window: { schedule: '0 * * * *', duration: 5400, allow: ['reboot'] },
      now: '2025-03-05T10:10:00.000Z',
      expected: { open: true, closesAt: new Date('2025-03-05T11:30:00.000Z') },
    },
    {
      why: 'weekday names are accepted, as crontab writes them',
      window: { schedule: '0 2 * * SAT', duration: 3600, allow: ['reboot'] },
      now: '2025-03-05T12:00:00.000Z',
      expected: { open: false, nextOpen: new Date('2025-03-08T02:00:00.000Z') },
    },
    {
      why: 'with both day fields restricted either one opens the window (Vixie cron), so Friday 7th opens before the 13th',
      window: { schedule: '0 2 13 * FRI', duration: 3600, allow: ['reboot'] },
      now: '2025-03-05T12:00:00.000Z',
      expected: { open: false, nextOpen: new Date('2025-03-07T02:00:00.000Z') },
    },
  ];
  it.each(cases)('$why', ({ window, now, expected }) => {
    expect(windowStatus(window, new Date(now))).toEqual(expected);
  });
});

describe('checkWindow', () => {
  const bad: { why: string; window: MaintenanceWindow; message: RegExp }[] = [
    { why: 'six fields (seconds) are not crontab syntax', window: { ...saturdayNight, schedule: '0 0 2 * * 6' }, message: /5 parts/ },
    { why: 'garbage is refused', window: { ...saturdayNight, schedule: 'saturday night' }, message: /./ },
    { why: 'an unknown time zone is caught up front, not at the first evaluation', window: { ...saturdayNight, timezone: 'Mars/Olympus' }, message: /timezone/i },
    { why: 'a zero duration would never open', window: { ...saturdayNight, duration: 0 }, message: /duration/ },
  ];
  it.each(bad)('$why', ({ window, message }) => {
    expect(() => checkWindow(window)).toThrow(InvalidWindowError);
    expect(() => checkWindow(window)).toThrow(message);
  });
});
