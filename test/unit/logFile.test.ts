// A command's log file (shared/cli/logFile.ts): lines are written together, INFO lines within
// LOG_FLUSH_MS, a warning or an error at once with the lines before it, and every line is in the
// file, in order, once the log is ended.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOG_FLUSH_MS, openLogFile } from '../../shared/cli/logFile.js';
import { tempDir } from '../helpers/temp.js';

const messages = (file: string) =>
  (existsSync(file) ? readFileSync(file, 'utf8') : '') // the stream makes the file as it opens it, after a turn or two
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { message: string }).message);

/** The file's messages once it holds `count` lines, or as they stand after `ms`. */
async function written(file: string, count: number, ms: number): Promise<string[]> {
  const until = Date.now() + ms;
  while (messages(file).length < count && Date.now() < until) await sleep(2);
  return messages(file);
}

describe('log file (logFile.ts)', () => {
  it('sets a log past its size aside as bqx.log.1 when it opens it (replacing the one before), and appends below it', async () => {
    const file = path.join(tempDir('log-file'), 'bqx.log');
    const line = (message: string) => `${JSON.stringify({ message })}\n`;
    writeFileSync(file, line('old 1') + line('old 2'));
    // At the size exactly: not past it.
    const small = openLogFile(file, 'info', undefined, statSync(file).size);
    small.logger.info('appended');
    await small.end();
    assert.deepEqual(messages(file), ['old 1', 'old 2', 'appended'], 'under the size: appended to');
    assert.ok(!existsSync(`${file}.1`));
    writeFileSync(`${file}.1`, line('older still'));
    const past = openLogFile(file, 'info', undefined, statSync(file).size - 1);
    past.logger.info('new');
    await past.end();
    assert.deepEqual(messages(file), ['new']);
    assert.deepEqual(messages(`${file}.1`), ['old 1', 'old 2', 'appended'], 'the one set aside before is replaced');
  });

  it('holds INFO lines back for one write, writes them by the timer, and every line in order at the end', async () => {
    const file = path.join(tempDir('log-file'), 'bqx.log');
    const log = openLogFile(file, 'info');
    // Lines in several turns of the event loop, as checkpoints land.
    for (let i = 0; i < 5; i++) {
      log.logger.info(`landed ${i}`);
      await new Promise((r) => setImmediate(r));
    }
    log.logger.debug('not at this level');
    await sleep(10);
    assert.deepEqual(messages(file), [], 'nothing written yet: the lines wait for the timer');
    await sleep(LOG_FLUSH_MS + 50);
    assert.deepEqual(messages(file), ['landed 0', 'landed 1', 'landed 2', 'landed 3', 'landed 4'], 'written by the timer, without an end');
    log.logger.info('last');
    await log.end();
    assert.deepEqual(messages(file).slice(-1), ['last']);
  });

  it('writes a warning or an error at the next turn of the loop, with the lines before it, and echoes every line at once', async () => {
    const file = path.join(tempDir('log-file'), 'bqx.log');
    const echoed: string[] = [];
    const log = openLogFile(file, 'info', (line) => echoed.push((JSON.parse(line) as { message: string }).message));
    log.logger.info('before');
    log.logger.warn('a warning');
    assert.deepEqual(echoed, ['before', 'a warning']);
    // In the file before the INFO line's timer could have written it: the warning took it along.
    assert.deepEqual(await written(file, 2, LOG_FLUSH_MS - 20), ['before', 'a warning']);
    log.logger.error('an error');
    log.logger.info('after');
    assert.deepEqual(await written(file, 4, LOG_FLUSH_MS - 20), ['before', 'a warning', 'an error', 'after']);
    await log.end();
    assert.deepEqual(messages(file), ['before', 'a warning', 'an error', 'after'], 'each line once');
  });
});
