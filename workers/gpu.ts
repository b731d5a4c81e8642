import { main } from './run';

main('gpu').catch((err) => {
  console.error(err);
  process.exit(1);
});
