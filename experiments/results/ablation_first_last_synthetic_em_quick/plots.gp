# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'ablation_first_last_synthetic_em_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours first_full-last_full', '' index 0 using 1:4 with linespoints dt 2 title 'paper first_full-last_full', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours first_quant-last_full', '' index 1 using 1:4 with linespoints dt 2 title 'paper first_quant-last_full', \
     'dice_vs_bits.dat' index 2 using 1:2:3 with yerrorlines lw 2 title 'ours first_full-last_quant', '' index 2 using 1:4 with linespoints dt 2 title 'paper first_full-last_quant', \
     'dice_vs_bits.dat' index 3 using 1:2:3 with yerrorlines lw 2 title 'ours first_quant-last_quant', '' index 3 using 1:4 with linespoints dt 2 title 'paper first_quant-last_quant'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_first_full-last_full.png'
set title 'ablation_first_last_synthetic_em_quick first_full-last_full: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_first_full-last_full.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_first_full-last_full.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_first_full-last_full.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_first_quant-last_full.png'
set title 'ablation_first_last_synthetic_em_quick first_quant-last_full: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_first_quant-last_full.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_first_quant-last_full.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_first_quant-last_full.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_first_full-last_quant.png'
set title 'ablation_first_last_synthetic_em_quick first_full-last_quant: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_first_full-last_quant.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_first_full-last_quant.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_first_full-last_quant.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
set output 'curves_first_quant-last_quant.png'
set title 'ablation_first_last_synthetic_em_quick first_quant-last_quant: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_first_quant-last_quant.dat' index 0 using 1:2 with lines lw 2 title "q8_0-q0_8", \
     'curves_first_quant-last_quant.dat' index 1 using 1:2 with lines lw 2 title "q6_0-q0_4", \
     'curves_first_quant-last_quant.dat' index 2 using 1:2 with lines lw 2 title "q4_0-q0_2"
