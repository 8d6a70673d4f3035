import assert from 'node:assert/strict';
import { parseTime, parseWindow } from '../../shared/chain/messages.js';
import { InputError } from '../../shared/naming.js';

const refused = (value: string, reason: RegExp) =>
  assert.throws(() => parseTime(value, 'end'), (e: unknown) => e instanceof InputError && reason.test(e.message), value);

describe('parseTime (the window flags, the run request and the API)', () => {
  it('takes a date as UTC midnight and a time with a zone, normalised to UTC', () => {
    assert.equal(parseTime('2020-02-29', 'end'), '2020-02-29T00:00:00.000Z');
    assert.equal(parseTime('2020-01-01T00:00Z', 'end'), '2020-01-01T00:00:00.000Z');
    assert.equal(parseTime('2020-03-01T00:30:00+01:00', 'end'), '2020-02-29T23:30:00.000Z');
    assert.equal(parseTime('2020-01-01 12:34:56.5Z', 'end'), '2020-01-01T12:34:56.500Z');
  });

  it('refuses a date or time the calendar has not, which Date would roll over to the next day', () => {
    for (const v of ['2020-02-30', '2021-02-29T00:00:00Z', '2020-04-31T00:00:00Z', '2020-13-01', '2020-01-01T24:00:00Z', '2020-01-01T23:60Z', '2020-01-01T00:00:60Z', '2020-01-01T00:00+25:00']) {
      refused(v, /is not a valid time/);
    }
  });

  it('refuses a time of day without a zone, saying how to write it in UTC', () => {
    refused('2020-01-01T00:00', /^end "2020-01-01T00:00" has no zone: bqx's times are UTC, so add Z \(2020-01-01T00:00Z\)/);
  });

  it('refuses what is not an ISO-8601 time, and a window that does not move forward', () => {
    refused('yesterday', /must be an ISO-8601 time such as 2020-01-01T00:00:00Z/);
    assert.throws(() => parseWindow('2020-02-29', '2020-02-29T00:00:00Z'), /must be before end/);
  });
});
