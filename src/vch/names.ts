// Container and pod ids and names: ids are 64 lowercase hex digits; names follow Docker's rule
// (a letter or digit, then letters, digits, '_', '.', '-'; at least two characters), and a
// container created without one gets a generated `adjective_noun` name.
import { randomBytes, randomInt } from 'node:crypto';
import { invalidInput } from './errors.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ID = /^[0-9a-f]{64}$/;

export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function isId(s: string): boolean {
  return ID.test(s);
}

/** A name as given (a leading '/' as Docker allows); InvalidInput if it breaks the rule. */
export function checkName(name: string, what = 'container'): string {
  const n = name.startsWith('/') ? name.slice(1) : name;
  if (!NAME.test(n))
    throw invalidInput(
      `invalid ${what} name ${JSON.stringify(name)}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters`,
    );
  return n;
}

// Words of our own; what matters is that names are readable and rarely collide.
const ADJECTIVES = [
  'amber',
  'brave',
  'calm',
  'clever',
  'crisp',
  'daring',
  'eager',
  'fancy',
  'gentle',
  'glad',
  'happy',
  'humble',
  'jolly',
  'keen',
  'kind',
  'lively',
  'lucid',
  'merry',
  'modest',
  'nimble',
  'noble',
  'patient',
  'plucky',
  'polite',
  'proud',
  'quick',
  'quiet',
  'rapid',
  'serene',
  'sharp',
  'shiny',
  'silent',
  'steady',
  'sunny',
  'swift',
  'tender',
  'tidy',
  'vivid',
  'warm',
  'witty',
];
const NOUNS = [
  'alder',
  'badger',
  'beacon',
  'birch',
  'brook',
  'canyon',
  'cedar',
  'comet',
  'crane',
  'delta',
  'dune',
  'falcon',
  'fern',
  'fjord',
  'glacier',
  'harbor',
  'heron',
  'island',
  'juniper',
  'lagoon',
  'lark',
  'maple',
  'meadow',
  'mesa',
  'nebula',
  'orchid',
  'otter',
  'pebble',
  'pine',
  'prairie',
  'quartz',
  'raven',
  'reef',
  'ridge',
  'sparrow',
  'spruce',
  'summit',
  'tundra',
  'willow',
  'wren',
];

/** A fresh `adjective_noun` name not taken; a number is added after a few collisions. */
export function generateName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}`;
    const name = i < 5 ? base : `${base}${randomInt(1000)}`;
    if (!taken(name)) return name;
  }
}
