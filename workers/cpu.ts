import { main } from './run';

main('cpu').catch((err) => {
  console.error(err);
  process.exit(1);
});
