// The browser's half of the proof-of-work on the registration form (and on the login form of an account
// under attack): solves the form's challenge in the background with altcha-lib's solver, puts the proof in
// the form, and holds a submit back until it is there. The person does nothing.
import { solveChallenge } from '/vendor/altcha/pow.js';
import { deriveKey } from '/vendor/altcha/algorithms/web/sha.js';

for (const form of document.querySelectorAll('form[data-pow]')) {
  const field = form.querySelector('input[name="proof"]');
  const status = form.querySelector('[data-pow-status]');
  const say = (text) => {
    if (status) status.textContent = text;
  };
  let waiting = false;
  const solved = (async () => {
    if (!window.crypto || !window.crypto.subtle) throw new Error('no Web Crypto');
    const challenge = JSON.parse(form.dataset.pow);
    const solution = await solveChallenge({ challenge, deriveKey });
    if (!solution) throw new Error('not solved');
    field.value = btoa(JSON.stringify({ challenge, solution }));
    form.dataset.powReady = '';
    say('Check done.');
  })();
  solved.catch(() => say('The browser check could not run here (it needs a secure page, https or localhost). Reload the page to try again.'));
  form.addEventListener('submit', (event) => {
    if (field.value) return;
    event.preventDefault();
    if (waiting) return;
    waiting = true;
    say('Finishing the browser check, then sending the form…');
    solved.then(
      () => form.requestSubmit(),
      () => {
        waiting = false;
      },
    );
  });
}
