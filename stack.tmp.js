const {startStack}=require('./dist/stack');
const {loadEnv}=require('./dist/config/env');
(async()=>{const env=loadEnv({...process.env, FACTORY_DATA_DIR:'/tmp/fstack', TEMPORAL_ADDRESS:'127.0.0.1:27233', TEMPORAL_UI_PORT:'28233', S3_PORT:'27070', EMBEDDED_PG_PORT:'25432'});
const t=Date.now();
try { const s=await startStack(env); console.log('up in',Date.now()-t); await s.stop(); console.log('stopped'); } catch(e){console.error('ERR',e.message)}
process.exit(0)})();
