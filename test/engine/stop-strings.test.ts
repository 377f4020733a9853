import { describe, expect, it } from 'vitest';
import { StopStringMatcher } from '../../src/engine/stop-strings.js';

function run(stops: string[], deltas: string[], include = false) {
  const m = new StopStringMatcher(stops, include);
  let out = '';
  for (const d of deltas) {
    const r = m.push(d);
    out += r.text;
    if (r.stop !== undefined) return { out, stop: r.stop };
  }
  return { out: out + m.flush(), stop: undefined };
}

describe('stop strings', () => {
  it('passes text through when there are none', () => {
    expect(run([], ['a', 'b'])).toEqual({ out: 'ab', stop: undefined });
  });
  it('stops inside one delta and drops the stop string', () => {
    expect(run(['END'], ['abcENDxyz'])).toEqual({ out: 'abc', stop: 'END' });
  });
  it('detects a stop split across deltas, never streaming its start', () => {
    const m = new StopStringMatcher(['</s>']);
    expect(m.push('hello <')).toEqual({ text: 'hello ' });
    expect(m.push('/')).toEqual({ text: '' });
    expect(m.push('s> more')).toEqual({ text: '', stop: '</s>' });
  });
  it('releases held text when the stop does not complete', () => {
    const m = new StopStringMatcher(['</s>']);
    expect(m.push('a </')).toEqual({ text: 'a ' });
    expect(m.push('b')).toEqual({ text: '</b' });
  });
  it('takes the earliest of several stops and can include it', () => {
    expect(run(['yz', 'cd'], ['abcdxyz'], true)).toEqual({ out: 'abcd', stop: 'cd' });
  });
  it('flushes held text at the end', () => {
    expect(run(['STOP'], ['abc', 'ST'])).toEqual({ out: 'abcST', stop: undefined });
  });
});
