import { main } from './run';

main('control').catch((err) => {
  console.error(err);
  process.exit(1);
});
