// Debian's chromium driven by playwright-core (never a downloaded browser).
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS } from './config.js';

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
