import { describe, expect, it } from 'vitest';
import { overlayOptions } from './rootfs.js';

const dirs = { upper: '/state/c/upper', work: '/state/c/work' };
const layer = (i: number) =>
  `/var/lib/vic/state/images/layers/l/${i.toString(16).padStart(20, '0')}`;

describe('overlayOptions', () => {
  it('names the layers top first, absolute while they fit in a page', () => {
    expect(overlayOptions([layer(2), layer(1)], dirs)).toEqual({
      options: `lowerdir=${layer(2)}:${layer(1)},upperdir=/state/c/upper,workdir=/state/c/work`,
    });
  });

  it('names many layers relative to their one directory, the mount running there', () => {
    const lowers = Array.from({ length: 120 }, (_, i) => layer(120 - i));
    const how = overlayOptions(lowers, dirs)!;
    expect(how.cwd).toBe('/var/lib/vic/state/images/layers/l');
    expect(how.options.length).toBeLessThan(4096);
    expect(how.options.startsWith(`lowerdir=${'0'.repeat(18)}78:`)).toBe(true);
  });

  it('gives up (the caller copies) when the layers cannot be named in one page', () => {
    const lowers = Array.from({ length: 300 }, (_, i) => layer(i));
    expect(overlayOptions(lowers, dirs)).toBeUndefined();
    const scattered = Array.from({ length: 60 }, (_, i) => `${layer(i)}/diff-of-a-long-name`);
    expect(overlayOptions(scattered, dirs)).toBeUndefined();
  });

  it('refuses paths overlay cannot be given (commas, colons) and an empty stack', () => {
    expect(overlayOptions(['/a,b'], dirs)).toBeUndefined();
    expect(overlayOptions(['/a:b'], dirs)).toBeUndefined();
    expect(overlayOptions([], dirs)).toBeUndefined();
  });
});
