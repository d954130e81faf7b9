import { normalizeUserName } from '../../src/lib/userName';

describe('normalizeUserName', () => {
  it.each([
    ['erin1'],
    ['erin1 '],
    [' erin1'],
    ['erin1\t'],
    ['\u00a0erin1'],
    ['ERIN1'],
    ['Erin1\u3000'],
    ['\u200berin1\ufeff'],
    ['ｅｒｉｎ１'],
    ['erin1\u2003\u2009'],
  ])('when the name is spelled %j, then it is erin1', (raw) => {
    expect(normalizeUserName(raw)).toBe('erin1');
  });

  it('when letters differ only by case folding, then they meet; inner spaces and other letters stay apart', () => {
    expect(normalizeUserName('Straße')).toBe(normalizeUserName('STRASSE'));
    expect(normalizeUserName('erin 1')).toBe('erin 1');
    expect(normalizeUserName('erin2')).not.toBe(normalizeUserName('erin1'));
  });
});
